// The local stack's Hive (Spark Thrift server) login: hive.server2.authentication=CUSTOM with this
// class. One user, whose generated password is in the file named by the system property
// logstream.hive.password.file (the stack's git-ignored credentials folder). Compiled by the stack
// (plugins/logstream/stack/hive.py) against pyspark's jars.
package io.logstream.stack;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import javax.security.sasl.AuthenticationException;

import org.apache.hive.service.auth.PasswdAuthenticationProvider;

public class LocalPasswordAuthenticator implements PasswdAuthenticationProvider {
    @Override
    public void Authenticate(String user, String password) throws AuthenticationException {
        String expectedUser = System.getProperty("logstream.hive.user", "logstream");
        String file = System.getProperty("logstream.hive.password.file");
        if (file == null) {
            throw new AuthenticationException("the server has no password file (logstream.hive.password.file)");
        }
        byte[] expected;
        try {
            expected = Files.readString(Path.of(file), StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8);
        } catch (IOException err) {
            throw new AuthenticationException("cannot read the password file " + file, err);
        }
        byte[] given = (password == null ? "" : password).getBytes(StandardCharsets.UTF_8);
        boolean ok = expectedUser.equals(user) & MessageDigest.isEqual(expected, given);
        if (!ok) {
            throw new AuthenticationException("wrong user name or password for " + user);
        }
    }
}
