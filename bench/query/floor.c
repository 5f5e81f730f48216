/* The kernel floor for bench/query: a UDP responder that does only what any
 * DNS server must do per query (receive it, send a reply), batched with
 * recvmmsg/sendmmsg as raftdnsd batches, and nothing else. The reply is the
 * query itself with QR set: the question echoed and every section empty
 * beyond it (the counts of answer, authority and additional zeroed, the
 * bytes after the question cut), so its size is that of a minimal answer.
 *
 * Usage: floor ADDRESS PORT    (IPv4; runs until killed)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { kBatch = 32, kMaxQuery = 4096, kHeader = 12 };

/* Offset just past the question, or 0 when the packet has none that parses. */
static size_t question_end(const unsigned char *m, size_t n) {
  size_t at = kHeader;
  if (n < kHeader || ((m[4] << 8) | m[5]) != 1) return 0;
  while (at < n && m[at] != 0) {
    if (m[at] & 0xc0) return 0; /* a query's question is never compressed */
    at += 1 + (size_t)m[at];
  }
  at += 1 + 4; /* the root label, QTYPE, QCLASS */
  return at <= n ? at : 0;
}

int main(int argc, char **argv) {
  static unsigned char buffers[kBatch][kMaxQuery];
  static struct sockaddr_in peers[kBatch];
  static struct iovec iov[kBatch], out_iov[kBatch];
  static struct mmsghdr in[kBatch], out[kBatch];
  struct sockaddr_in addr;
  int fd, one = 1;

  if (argc != 3) {
    fprintf(stderr, "usage: %s ADDRESS PORT\n", argv[0]);
    return 2;
  }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "floor: bad IPv4 address '%s'\n", argv[1]);
    return 2;
  }
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("floor: socket");
    return 1;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fprintf(stderr, "floor: cannot bind %s:%s: %s\n", argv[1], argv[2], strerror(errno));
    return 1;
  }
  for (;;) {
    int received, i, replies = 0, done = 0;
    for (i = 0; i < kBatch; ++i) {
      iov[i].iov_base = buffers[i];
      iov[i].iov_len = kMaxQuery;
      memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
      in[i].msg_hdr.msg_name = &peers[i];
      in[i].msg_hdr.msg_namelen = sizeof peers[i];
      in[i].msg_hdr.msg_iov = &iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
    /* Blocks for the first datagram, then takes whatever else is queued. */
    received = recvmmsg(fd, in, kBatch, MSG_WAITFORONE, NULL);
    if (received < 0) {
      if (errno == EINTR) continue;
      perror("floor: recvmmsg");
      return 1;
    }
    for (i = 0; i < received; ++i) {
      unsigned char *m = buffers[i];
      size_t end = question_end(m, in[i].msg_len);
      if (end == 0 || (m[2] & 0x80)) continue;
      m[2] |= 0x80;                 /* QR */
      memset(m + 6, 0, 6);          /* no answer, authority or additional */
      out_iov[replies].iov_base = m;
      out_iov[replies].iov_len = end;
      memset(&out[replies].msg_hdr, 0, sizeof out[replies].msg_hdr);
      out[replies].msg_hdr.msg_name = &peers[i];
      out[replies].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
      out[replies].msg_hdr.msg_iov = &out_iov[replies];
      out[replies].msg_hdr.msg_iovlen = 1;
      ++replies;
    }
    while (done < replies) {
      int sent = sendmmsg(fd, out + done, (unsigned)(replies - done), 0);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) {
        ++done; /* skip the datagram the kernel refused */
        continue;
      }
      done += sent;
    }
  }
}
