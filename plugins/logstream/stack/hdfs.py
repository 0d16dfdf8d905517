"""HDFS as a MiniDFSCluster (one namenode, one datanode) from hadoop-client-minicluster, with WebHDFS."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from logstream.stack.service import Health, Service


class Hdfs(Service):
    name = "hdfs"
    port_names = ("hdfs_namenode", "hdfs_http")
    start_timeout = 120.0

    @property
    def webhdfs_url(self) -> str:
        return f"http://{self.config.host}:{self.port('hdfs_http')}/webhdfs/v1"

    def launch(self) -> None:
        base = self.data_dir / "minidfs"
        formatted = (base / "name-0-1").exists() or (base / "name1").exists()
        args = ["-nomr", "-nnport", str(self.port("hdfs_namenode")), "-nnhttpport", str(self.port("hdfs_http"))]
        if not formatted:
            args.insert(1, "-format")
        args += [
            "-D", f"hdfs.minidfs.basedir={base}",
            "-D", "dfs.permissions.enabled=true",
            "-D", "dfs.namenode.safemode.extension=0",
            "-D", f"dfs.datanode.hostname={self.config.host}",
            # closing a file otherwise waits 400 ms+ for the block to complete: small files crawl
            "-D", "dfs.client.block.write.locateFollowingBlock.initial.delay.ms=10",
            "-D", "dfs.namenode.file.close.num-committed-allowed=1",
            # Spark's Thrift server runs asynchronous statements as a proxy of its own user
            # (HADOOP_USER_NAME, stack/hive.py): HiveServer2's usual proxy-user grant, from this host only
            "-D", f"hadoop.proxyuser.root.hosts={self.config.host}",
            "-D", "hadoop.proxyuser.root.groups=*",
            "-writeConfig", str(self.config.run_dir / "hdfs" / "hdfs-site.xml"),
        ]
        (self.config.run_dir / "hdfs").mkdir(parents=True, exist_ok=True)
        base.mkdir(parents=True, exist_ok=True)
        argv = self.java_argv(
            "hdfs", "org.apache.hadoop.mapreduce.MiniHadoopClusterManager", *args, heap="768m"
        )
        self.process.start(argv, cwd=self.data_dir)

    def health(self) -> Health:
        url = f"{self.webhdfs_url}/?op=GETFILESTATUS&user.name=root"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                status = json.load(response)["FileStatus"]
        except (OSError, urllib.error.URLError, KeyError, ValueError) as err:
            return Health(False, f"WebHDFS not answering at {url}: {err}")
        safe = self._safemode_off()
        return Health(safe, f"WebHDFS {self.webhdfs_url} root is a {status['type'].lower()}" + ("" if safe else ", in safe mode"))

    def _safemode_off(self) -> bool:
        url = (
            f"http://{self.config.host}:{self.port('hdfs_http')}/jmx"
            "?qry=Hadoop:service=NameNode,name=NameNodeInfo"
        )
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                beans = json.load(response)["beans"]
        except (OSError, urllib.error.URLError, KeyError, ValueError):
            return False
        return bool(beans) and not beans[0].get("Safemode")
