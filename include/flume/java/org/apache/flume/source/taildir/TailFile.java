/*
 * Licensed to the Apache Software Foundation (ASF) under one
 * or more contributor license agreements.  See the NOTICE file
 * distributed with this work for additional information
 * regarding copyright ownership.  The ASF licenses this file
 * to you under the Apache License, Version 2.0 (the
 * "License"); you may not use this file except in compliance
 * with the License.  You may obtain a copy of the License at
 *
 * http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing,
 * software distributed under the License is distributed on an
 * "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY
 * KIND, either express or implied.  See the License for the
 * specific language governing permissions and limitations
 * under the License.
 */

/*
 * logstream: Flume 1.11.0's TailFile (tag release-1.11.0-rc2, the released source) with one change,
 * marked "logstream" below: with byteOffsetHeader on and a "host" header in the file group's
 * headers, every event also carries the header "key" (which the Kafka sink makes the record's key):
 *   "ls1 <host> <file id> <start> <end>"  (logstream/line_ids.py reads it)
 * (the offsets padded with leading zeros to 15 digits, so that the keys of a file are of one length)
 * where the file id is "<inode>-<crc32 of the file's first line, hex>", the file's identity, which a
 * rename (rotation) keeps and a new file of the same name does not, even if the inode is reused, and
 * [start, end) are the line's bytes, its separator included: the lines of a file tile its bytes
 * whatever the separator (LF, CRLF) or a later interceptor's cut.
 * Compiled by logstream.stack.flume (javac, against the Flume jars of .jvm/lib/flume) and put first
 * on the agents' classpath, so it replaces the jar's class of the same name.
 */
package org.apache.flume.source.taildir;

import com.google.common.collect.Lists;
import org.apache.flume.Event;
import org.apache.flume.event.EventBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32;
import java.util.List;
import java.util.Map;

import static org.apache.flume.source.taildir.TaildirSourceConfigurationConstants.BYTE_OFFSET_HEADER_KEY;

public class TailFile {
  private static final Logger logger = LoggerFactory.getLogger(TailFile.class);

  private static final byte BYTE_NL = (byte) 10;
  private static final byte BYTE_CR = (byte) 13;

  private static final int BUFFER_SIZE = 8192;
  private static final int NEED_READING = -1;

  private RandomAccessFile raf;
  private final String path;
  private final long inode;
  private long pos;
  private long lastUpdated;
  private boolean needTail;
  private final Map<String, String> headers;
  private byte[] buffer;
  private byte[] oldBuffer;
  private int bufferPos;
  private long lineReadPos;
  // logstream: the file's identity, once its first line is whole (see fileId())
  private String fileId;
  private static final int FIRST_LINE_MAX = 4096;
  public static final String LINE_ID_HEADER_KEY = "key";
  public static final String HOST_HEADER_KEY = "host";
  public static final String LINE_ID_FORMAT = "ls1";
  // logstream: offsets padded with leading zeros to this width, so that the keys of a file are of one
  // length (its consumers read a chunk of them as a table; any width is read: a longer one is whole)
  public static final int OFFSET_DIGITS = 15;

  public TailFile(File file, Map<String, String> headers, long inode, long pos)
      throws IOException {
    this.raf = new RandomAccessFile(file, "r");
    if (pos > 0) {
      raf.seek(pos);
      lineReadPos = pos;
    }
    this.path = file.getAbsolutePath();
    this.inode = inode;
    this.pos = pos;
    this.lastUpdated = 0L;
    this.needTail = true;
    this.headers = headers;
    this.oldBuffer = new byte[0];
    this.bufferPos = NEED_READING;
  }

  public RandomAccessFile getRaf() {
    return raf;
  }

  public String getPath() {
    return path;
  }

  public long getInode() {
    return inode;
  }

  public long getPos() {
    return pos;
  }

  public long getLastUpdated() {
    return lastUpdated;
  }

  public boolean needTail() {
    return needTail;
  }

  public Map<String, String> getHeaders() {
    return headers;
  }

  public long getLineReadPos() {
    return lineReadPos;
  }

  public void setPos(long pos) {
    this.pos = pos;
  }

  public void setLastUpdated(long lastUpdated) {
    this.lastUpdated = lastUpdated;
  }

  public void setNeedTail(boolean needTail) {
    this.needTail = needTail;
  }

  public void setLineReadPos(long lineReadPos) {
    this.lineReadPos = lineReadPos;
  }

  public boolean updatePos(String path, long inode, long pos) throws IOException {
    if (this.inode == inode && this.path.equals(path)) {
      setPos(pos);
      updateFilePos(pos);
      logger.info("Updated position, file: " + path + ", inode: " + inode + ", pos: " + pos);
      return true;
    }
    return false;
  }
  public void updateFilePos(long pos) throws IOException {
    raf.seek(pos);
    lineReadPos = pos;
    bufferPos = NEED_READING;
    oldBuffer = new byte[0];
  }


  public List<Event> readEvents(int numEvents, boolean backoffWithoutNL,
      boolean addByteOffset) throws IOException {
    List<Event> events = Lists.newLinkedList();
    for (int i = 0; i < numEvents; i++) {
      Event event = readEvent(backoffWithoutNL, addByteOffset);
      if (event == null) {
        break;
      }
      events.add(event);
    }
    return events;
  }

  private Event readEvent(boolean backoffWithoutNL, boolean addByteOffset) throws IOException {
    Long posTmp = getLineReadPos();
    LineResult line = readLine();
    if (line == null) {
      return null;
    }
    if (backoffWithoutNL && !line.lineSepInclude) {
      logger.info("Backing off in file without newline: "
          + path + ", inode: " + inode + ", pos: " + raf.getFilePointer());
      updateFilePos(posTmp);
      return null;
    }
    Event event = EventBuilder.withBody(line.line);
    if (addByteOffset == true) {
      event.getHeaders().put(BYTE_OFFSET_HEADER_KEY, posTmp.toString());
      // logstream: the line id (lineReadPos is now just past the line's separator)
      String host = headers == null ? null : headers.get(HOST_HEADER_KEY);
      if (host != null) {
        event.getHeaders().put(LINE_ID_HEADER_KEY, LINE_ID_FORMAT + " " + host + " " + fileId() + " "
            + padded(posTmp) + " " + padded(getLineReadPos()));
      }
    }
    return event;
  }

  // logstream: an offset as OFFSET_DIGITS decimal digits (more if it needs more)
  static String padded(long offset) {
    String digits = Long.toString(offset);
    if (digits.length() >= OFFSET_DIGITS) {
      return digits;
    }
    StringBuilder text = new StringBuilder(OFFSET_DIGITS);
    for (int i = digits.length(); i < OFFSET_DIGITS; i++) {
      text.append('0');
    }
    return text.append(digits).toString();
  }

  /**
   * logstream: inode and CRC-32 of the first line (its first 4096 bytes if longer), read through
   * the open file, so it is this inode's first line even if the name now points elsewhere. A first
   * line still without its separator is not cached: the id may change once the line is whole.
   */
  private String fileId() throws IOException {
    if (fileId != null) {
      return fileId;
    }
    ByteBuffer head = ByteBuffer.allocate(FIRST_LINE_MAX);
    FileChannel channel = raf.getChannel();
    long at = 0;
    while (head.hasRemaining()) {
      int read = channel.read(head, at);  // a positional read: raf's own position does not move
      if (read <= 0) {
        break;
      }
      at += read;
    }
    int length = head.position();
    int end = -1;
    for (int i = 0; i < length; i++) {
      if (head.get(i) == BYTE_NL) {
        end = i + 1;
        break;
      }
    }
    CRC32 crc = new CRC32();
    crc.update(head.array(), 0, end >= 0 ? end : length);
    String id = inode + "-" + Long.toHexString(crc.getValue());
    if (end >= 0 || length == FIRST_LINE_MAX) {
      fileId = id;
    }
    return id;
  }

  private void readFile() throws IOException {
    if ((raf.length() - raf.getFilePointer()) < BUFFER_SIZE) {
      buffer = new byte[(int) (raf.length() - raf.getFilePointer())];
    } else {
      buffer = new byte[BUFFER_SIZE];
    }
    raf.read(buffer, 0, buffer.length);
    bufferPos = 0;
  }

  private byte[] concatByteArrays(byte[] a, int startIdxA, int lenA,
                                  byte[] b, int startIdxB, int lenB) {
    byte[] c = new byte[lenA + lenB];
    System.arraycopy(a, startIdxA, c, 0, lenA);
    System.arraycopy(b, startIdxB, c, lenA, lenB);
    return c;
  }

  public LineResult readLine() throws IOException {
    LineResult lineResult = null;
    while (true) {
      if (bufferPos == NEED_READING) {
        if (raf.getFilePointer() < raf.length()) {
          readFile();
        } else {
          if (oldBuffer.length > 0) {
            lineResult = new LineResult(false, oldBuffer);
            oldBuffer = new byte[0];
            setLineReadPos(lineReadPos + lineResult.line.length);
          }
          break;
        }
      }
      for (int i = bufferPos; i < buffer.length; i++) {
        if (buffer[i] == BYTE_NL) {
          int oldLen = oldBuffer.length;
          // Don't copy last byte(NEW_LINE)
          int lineLen = i - bufferPos;
          // For windows, check for CR
          if (i > 0 && buffer[i - 1] == BYTE_CR) {
            lineLen -= 1;
          } else if (oldBuffer.length > 0 && oldBuffer[oldBuffer.length - 1] == BYTE_CR) {
            oldLen -= 1;
          }
          lineResult = new LineResult(true,
              concatByteArrays(oldBuffer, 0, oldLen, buffer, bufferPos, lineLen));
          setLineReadPos(lineReadPos + (oldBuffer.length + (i - bufferPos + 1)));
          oldBuffer = new byte[0];
          if (i + 1 < buffer.length) {
            bufferPos = i + 1;
          } else {
            bufferPos = NEED_READING;
          }
          break;
        }
      }
      if (lineResult != null) {
        break;
      }
      // NEW_LINE not showed up at the end of the buffer
      oldBuffer = concatByteArrays(oldBuffer, 0, oldBuffer.length,
                                   buffer, bufferPos, buffer.length - bufferPos);
      bufferPos = NEED_READING;
    }
    return lineResult;
  }

  public void close() {
    try {
      raf.close();
      raf = null;
      long now = System.currentTimeMillis();
      setLastUpdated(now);
    } catch (IOException e) {
      logger.error("Failed closing file: " + path + ", inode: " + inode, e);
    }
  }

  private class LineResult {
    final boolean lineSepInclude;
    final byte[] line;

    public LineResult(boolean lineSepInclude, byte[] line) {
      super();
      this.lineSepInclude = lineSepInclude;
      this.line = line;
    }
  }
}
