// transport.h: blocking frame I/O on a connected Unix stream socket, shared by vhsmd and the
// client module. ReadFrame validates the header before reading (and allocating for) the payload.
// Also: connecting to a socket path with a timeout, and reading the peer's credentials.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "ipc/protocol.h"

namespace vhsm::ipc {

struct Frame {
  FrameHeader header;
  Bytes payload;
};

// Reads one frame. Unavailable on EOF/reset (the peer went away), DeadlineExceeded on a receive
// timeout, and the DecodeHeader errors for a bad header (the caller then drops the connection:
// after a bad header the stream position is unknown).
Result<Frame> ReadFrame(int fd);
// Writes all bytes (retrying short writes and EINTR; MSG_NOSIGNAL). Unavailable when the peer left.
Status WriteAll(int fd, ByteSpan data);

// Connects to a Unix socket. Unavailable (naming the path and errno) when nothing listens there.
// Sets send/receive timeouts of `timeout_ms` on the socket.
Result<int> ConnectUnix(const std::string& path, int timeout_ms);

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
Result<PeerCred> GetPeerCred(int fd);

}  // namespace vhsm::ipc
