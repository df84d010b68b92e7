// A thin socket for the control plane: open (optionally inside another network namespace),
// setsockopt/getsockopt, bind/connect/getsockname, send, batched non-blocking receive driven by
// libuv (uv_poll), close. Nothing here knows a protocol: netlink encoding lives in TypeScript
// (src/netlink/), and the same class opens raw IP (VRRP, protocol 112) or AF_PACKET sockets.
//
//   const s = new addon.sock.Socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, { netns: '/run/netns/x' });
//   s.setsockopt(SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20);
//   s.bind(sockaddrBytes);
//   s.start((errno, datagrams, sources, drained, stale) => ...);   // arrays of Buffers, one call per wakeup
//   (with { maxAgeMs }: datagrams that waited longer in the kernel's queue are dropped here,
//   never copied to JavaScript, and counted in `stale`)
//   s.send(bytes) -> bytes sent, or -errno for EAGAIN/ENOBUFS/EINTR (flow control, a value)
//   s.sendMany([bytes...], [sockaddr...]) -> per datagram: bytes sent or -errno (sendmmsg)
//   s.close();
//
// Every other failure throws an Error with `code` (the errno name), `errno` and `syscall`, like
// Node's own system errors. Sockets are always O_NONBLOCK and O_CLOEXEC. Registered as "sock".
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "registry.h"
#include "syserror.h"

namespace segw::sock {
namespace {

// Opens a socket in the network namespace at `nsPath` (or a fresh anonymous namespace when
// `fresh`), then returns the calling thread to its own namespace. The socket stays bound to the
// namespace it was created in; an anonymous namespace lives as long as the socket. Returns the
// fd or -errno; if the thread cannot get back home it aborts, because every later socket of the
// process would silently land in the wrong namespace.
int OpenInNamespace(int domain, int type, int protocol, const std::string& nsPath, bool fresh, const char** failed) {
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return *failed = "open(/proc/thread-self/ns/net)", -errno;
  int target = -1;
  if (!fresh) {
    target = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      int e = errno;
      close(home);
      return *failed = "open(netns)", -e;
    }
  }
  int rc = fresh ? unshare(CLONE_NEWNET) : setns(target, CLONE_NEWNET);
  int e = errno;
  if (target >= 0) close(target);
  if (rc < 0) {
    close(home);
    return *failed = fresh ? "unshare(CLONE_NEWNET)" : "setns", -e;
  }
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  e = errno;
  if (setns(home, CLONE_NEWNET) < 0) abort();
  close(home);
  if (fd < 0) return *failed = "socket", -e;
  return fd;
}

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Socket(const Napi::CallbackInfo& info);
  ~Socket() override { Shutdown(); }

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info);
  Napi::Value GetSockOpt(const Napi::CallbackInfo& info);
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value GetSockName(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value SendMany(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  bool Live(Napi::Env env) {
    if (fd_ >= 0) return true;
    Throw(env, "socket closed", EBADF);
    return false;
  }
  void StopPolling();
  void Shutdown();
  static void OnReadable(uv_poll_t* handle, int status, int events);
  void Drain();
  // Reads up to batch_ datagrams into the scratch buffers; with maxAgeMs_, marks the stale ones.
  int ReadBatch(int* err, unsigned* stale);
  bool Stale(const struct msghdr& h, const struct timespec& now) const;

  int fd_ = -1;
  uint32_t maxAgeMs_ = 0;  // 0: deliver every datagram whatever its age
  bool withSource_ = false;
  size_t datagramSize_ = 65536;
  unsigned batch_ = 32;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool refd_ = true;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_;
  // recvmmsg scratch: batch_ datagram buffers and their headers, reused across wakeups.
  std::vector<char> scratch_;
  std::vector<struct mmsghdr> headers_;
  std::vector<struct iovec> iovs_;
  std::vector<struct sockaddr_storage> sources_;
  // SCM_TIMESTAMPNS control messages, one per header (only with maxAgeMs_).
  std::vector<char> controls_;
  std::vector<bool> stale_;
};

constexpr size_t kControlSize = CMSG_SPACE(sizeof(struct timespec));

Napi::Function Socket::Define(Napi::Env env) {
  return DefineClass(env, "Socket",
                     {InstanceAccessor("fd", &Socket::Fd, nullptr),
                      InstanceMethod("setsockopt", &Socket::SetSockOpt),
                      InstanceMethod("getsockopt", &Socket::GetSockOpt),
                      InstanceMethod("bind", &Socket::Bind),
                      InstanceMethod("connect", &Socket::Connect),
                      InstanceMethod("getsockname", &Socket::GetSockName),
                      InstanceMethod("send", &Socket::Send),
                     InstanceMethod("sendMany", &Socket::SendMany),
                      InstanceMethod("start", &Socket::Start),
                      InstanceMethod("stop", &Socket::Stop),
                      InstanceMethod("setRef", &Socket::SetRef),
                      InstanceMethod("close", &Socket::Close)});
}

// new Socket(domain, type, protocol, { netns?: path, freshNetns?: bool, datagramSize?, batch?, withSource?, maxAgeMs? })
Socket::Socket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Socket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "Socket(domain, type, protocol, options?)").ThrowAsJavaScriptException();
    return;
  }
  int domain = info[0].As<Napi::Number>().Int32Value();
  int type = info[1].As<Napi::Number>().Int32Value();
  int protocol = info[2].As<Napi::Number>().Int32Value();
  std::string nsPath;
  bool fresh = false;
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (o.Get("netns").IsString()) nsPath = o.Get("netns").As<Napi::String>().Utf8Value();
    fresh = o.Get("freshNetns").ToBoolean().Value();
    if (o.Get("datagramSize").IsNumber()) datagramSize_ = o.Get("datagramSize").As<Napi::Number>().Uint32Value();
    if (o.Get("batch").IsNumber()) batch_ = o.Get("batch").As<Napi::Number>().Uint32Value();
    withSource_ = o.Get("withSource").ToBoolean().Value();
    if (o.Get("maxAgeMs").IsNumber()) maxAgeMs_ = o.Get("maxAgeMs").As<Napi::Number>().Uint32Value();
  }
  if (datagramSize_ < 64 || datagramSize_ > (1u << 20) || batch_ < 1 || batch_ > 1024) {
    Napi::RangeError::New(env, "Socket: datagramSize 64..1 MiB, batch 1..1024").ThrowAsJavaScriptException();
    return;
  }
  if (nsPath.empty() && !fresh) {
    fd_ = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd_ < 0) {
      Throw(env, "socket", errno);
      return;
    }
  } else {
    const char* failed = "socket";
    int fd = OpenInNamespace(domain, type, protocol, nsPath, fresh, &failed);
    if (fd < 0) {
      Throw(env, failed, -fd);
      return;
    }
    fd_ = fd;
  }
  // The kernel stamps each datagram when it is queued (socket(7) SO_TIMESTAMPNS, CLOCK_REALTIME).
  int on = 1;
  if (maxAgeMs_ > 0 && setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) Throw(env, "setsockopt(SO_TIMESTAMPNS)", errno);
}

// setsockopt(level, name, value: number (as a C int) | Buffer) -> undefined
Napi::Value Socket::SetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  int level = info[0].As<Napi::Number>().Int32Value();
  int name = info[1].As<Napi::Number>().Int32Value();
  int rc;
  if (info[2].IsBuffer()) {
    auto b = info[2].As<Napi::Buffer<uint8_t>>();
    rc = setsockopt(fd_, level, name, b.Data(), b.Length());
  } else {
    int v = info[2].As<Napi::Number>().Int32Value();
    rc = setsockopt(fd_, level, name, &v, sizeof v);
  }
  if (rc < 0) return Throw(env, "setsockopt", errno);
  return env.Undefined();
}

// getsockopt(level, name, maxLength) -> Buffer (as many bytes as the kernel wrote)
Napi::Value Socket::GetSockOpt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  int level = info[0].As<Napi::Number>().Int32Value();
  int name = info[1].As<Napi::Number>().Int32Value();
  socklen_t len = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : sizeof(int);
  std::vector<char> buf(len);
  if (getsockopt(fd_, level, name, buf.data(), &len) < 0) return Throw(env, "getsockopt", errno);
  return Napi::Buffer<char>::Copy(env, buf.data(), len);
}

Napi::Value Socket::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  auto a = info[0].As<Napi::Buffer<uint8_t>>();
  if (bind(fd_, reinterpret_cast<const sockaddr*>(a.Data()), a.Length()) < 0) return Throw(env, "bind", errno);
  return env.Undefined();
}

Napi::Value Socket::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  auto a = info[0].As<Napi::Buffer<uint8_t>>();
  if (connect(fd_, reinterpret_cast<const sockaddr*>(a.Data()), a.Length()) < 0) return Throw(env, "connect", errno);
  return env.Undefined();
}

Napi::Value Socket::GetSockName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return Throw(env, "getsockname", errno);
  return Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&ss), len);
}

// send(data, destination?: Buffer) -> bytes sent, or -errno when the kernel asks to retry later.
Napi::Value Socket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  auto d = info[0].As<Napi::Buffer<uint8_t>>();
  const sockaddr* to = nullptr;
  socklen_t tolen = 0;
  if (info.Length() > 1 && info[1].IsBuffer()) {
    auto a = info[1].As<Napi::Buffer<uint8_t>>();
    to = reinterpret_cast<const sockaddr*>(a.Data());
    tolen = a.Length();
  }
  ssize_t n = sendto(fd_, d.Data(), d.Length(), MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR) return Napi::Number::New(env, -e);
  return Throw(env, "sendto", e);
}

// sendMany(datagrams: Buffer[], destinations: Buffer[]) -> Int32Array: per datagram the bytes
// sent or -errno. One sendmmsg call for the whole list (more only after a failure): a datagram
// the kernel refuses (no route, EPERM, a full buffer) is reported in its slot and skipped, and
// the rest are still sent, in order. Nothing throws for I/O: the caller counts the failures.
Napi::Value Socket::SendMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  if (!info[0].IsArray() || !info[1].IsArray()) {
    Napi::TypeError::New(env, "sendMany(datagrams: Buffer[], destinations: Buffer[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto datas = info[0].As<Napi::Array>();
  auto dests = info[1].As<Napi::Array>();
  uint32_t n = datas.Length();
  if (dests.Length() != n) {
    Napi::RangeError::New(env, "sendMany: one destination per datagram").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<struct mmsghdr> msgs(n);
  std::vector<struct iovec> iov(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value d = datas.Get(i), a = dests.Get(i);
    if (!d.IsBuffer() || !a.IsBuffer()) {
      Napi::TypeError::New(env, "sendMany: datagrams and destinations must be Buffers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto db = d.As<Napi::Buffer<uint8_t>>();
    auto ab = a.As<Napi::Buffer<uint8_t>>();
    iov[i] = {db.Data(), db.Length()};
    msgs[i].msg_hdr = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = ab.Data();
    msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(ab.Length());
  }
  auto result = Napi::Int32Array::New(env, n);
  uint32_t off = 0;
  while (off < n) {
    int k = sendmmsg(fd_, msgs.data() + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k < 0) {
      int e = errno;
      if (e == EINTR) continue;
      result[off++] = -e;  // this datagram failed: report it, go on with the next
      continue;
    }
    if (k == 0) {  // not expected for a non-empty vector; never spin on it
      while (off < n) result[off++] = -EAGAIN;
      break;
    }
    for (int j = 0; j < k; j++) result[off + j] = static_cast<int32_t>(msgs[off + j].msg_len);
    off += static_cast<uint32_t>(k);
  }
  return result;
}

// start(callback(errno, datagrams: Buffer[], sources: Buffer[] | undefined, drained: boolean)): one
// call per wakeup with up to `batch` datagrams. errno is 0, or a receive error the socket
// reported (ENOBUFS: the kernel dropped messages because the receive buffer was full; EMSGSIZE:
// a datagram was truncated). drained: the receive queue was empty when reading stopped.
Napi::Value Socket::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  if (!info[0].IsFunction()) {
    Napi::TypeError::New(env, "start(callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (polling_) return env.Undefined();
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "segw.sock");
  if (!poll_) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc < 0) {
      delete poll_;
      poll_ = nullptr;
      return Throw(env, "uv_poll_init", -rc);
    }
    poll_->data = this;
    if (!refd_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  if (scratch_.empty()) {
    scratch_.resize(datagramSize_ * batch_);
    headers_.resize(batch_);
    iovs_.resize(batch_);
    sources_.resize(batch_);
    stale_.resize(batch_);
    if (maxAgeMs_ > 0) controls_.resize(kControlSize * batch_);
  }
  int rc = uv_poll_start(poll_, UV_READABLE, &Socket::OnReadable);
  if (rc < 0) return Throw(env, "uv_poll_start", -rc);
  polling_ = true;
  Ref();  // the JS object stays alive while the loop may call it
  return env.Undefined();
}

void Socket::OnReadable(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<Socket*>(handle->data);
  // A pending socket error (netlink's ENOBUFS after an overrun) arrives as POLLERR, and libuv
  // stops the handle before calling back. Reading consumes the error (recvmmsg returns it), so
  // the socket is healthy again: drain, then resume polling unless the callback closed it.
  self->Drain();
  if (status < 0 && self->polling_ && self->poll_) uv_poll_start(self->poll_, UV_READABLE, &Socket::OnReadable);
}

bool Socket::Stale(const struct msghdr& h, const struct timespec& now) const {
  for (struct cmsghdr* c = CMSG_FIRSTHDR(const_cast<struct msghdr*>(&h)); c; c = CMSG_NXTHDR(const_cast<struct msghdr*>(&h), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec t;
    memcpy(&t, CMSG_DATA(c), sizeof t);
    int64_t ageMs = (int64_t(now.tv_sec) - t.tv_sec) * 1000 + (int64_t(now.tv_nsec) - t.tv_nsec) / 1000000;
    return ageMs > int64_t(maxAgeMs_);
  }
  return false;  // no stamp (queued before stamping was on): deliver it
}

int Socket::ReadBatch(int* err, unsigned* stale) {
  *stale = 0;
  for (unsigned i = 0; i < batch_; i++) {
    iovs_[i] = {scratch_.data() + i * datagramSize_, datagramSize_};
    headers_[i].msg_hdr = {};
    headers_[i].msg_hdr.msg_iov = &iovs_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    if (withSource_) {
      headers_[i].msg_hdr.msg_name = &sources_[i];
      headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    if (maxAgeMs_ > 0) {
      headers_[i].msg_hdr.msg_control = controls_.data() + i * kControlSize;
      headers_[i].msg_hdr.msg_controllen = kControlSize;
    }
  }
  int n = recvmmsg(fd_, headers_.data(), batch_, MSG_DONTWAIT, nullptr);
  if (n < 0) {
    *err = errno;
    if (*err == EAGAIN || *err == EWOULDBLOCK || *err == EINTR) return -1;
    // A socket error is reported before the queued datagrams: read those in the same wakeup,
    // since the level-triggered poll may not fire again if the error was all there was.
    n = recvmmsg(fd_, headers_.data(), batch_, MSG_DONTWAIT, nullptr);
    if (n < 0) n = 0;
  }
  if (maxAgeMs_ > 0 && n > 0) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < n; i++) {
      stale_[i] = Stale(headers_[i].msg_hdr, now);
      if (stale_[i]) ++*stale;
    }
  } else {
    for (int i = 0; i < n; i++) stale_[i] = false;
  }
  return n;
}

void Socket::Drain() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  int err = 0;
  bool drained = false;
  unsigned stale = 0, staleTotal = 0;
  int n = ReadBatch(&err, &stale);
  // A full batch of stale datagrams costs no call into JavaScript: read on (bounded) until
  // something is fresh, the queue runs dry, or 64 batches were skipped.
  for (int rounds = 0; n == static_cast<int>(batch_) && stale == batch_ && rounds < 64; rounds++) {
    staleTotal += stale;
    n = ReadBatch(&err, &stale);
  }
  if (n < 0) {
    if (staleTotal == 0) return;
    n = 0;
    err = 0;
  }
  staleTotal += stale;
  // recvmmsg stops early only when the queue ran dry (or on an error): the caller may rely on
  // `drained` to know the kernel has nothing more queued for this socket.
  drained = n < static_cast<int>(batch_);
  Napi::Array out = Napi::Array::New(env);
  Napi::Array src = Napi::Array::New(env);
  uint32_t k = 0;
  for (int i = 0; i < n; i++) {
    if (stale_[i]) continue;
    if (headers_[i].msg_hdr.msg_flags & MSG_TRUNC) {
      err = EMSGSIZE;
      continue;
    }
    out.Set(k, Napi::Buffer<char>::Copy(env, scratch_.data() + i * datagramSize_, headers_[i].msg_len));
    if (withSource_) {
      src.Set(k, Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&sources_[i]), headers_[i].msg_hdr.msg_namelen));
    }
    k++;
  }
  if (k == 0 && err == 0 && staleTotal == 0) return;
  std::vector<napi_value> args = {Napi::Number::New(env, err), out, withSource_ ? src.As<Napi::Value>() : env.Undefined(),
                                   Napi::Boolean::New(env, drained), Napi::Number::New(env, staleTotal)};
  callback_.MakeCallback(Value(), args, *async_);
  if (env.IsExceptionPending()) {
    // A throwing handler is a bug in the caller: report it as Node reports uncaught exceptions.
    napi_value e = env.GetAndClearPendingException().Value();
    napi_fatal_exception(env, e);
  }
}

void Socket::StopPolling() {
  if (!polling_) return;
  polling_ = false;
  uv_poll_stop(poll_);
  Unref();
}

Napi::Value Socket::Stop(const Napi::CallbackInfo& info) {
  StopPolling();
  return info.Env().Undefined();
}

// setRef(false): an idle socket does not keep the process alive (a notification listener).
Napi::Value Socket::SetRef(const Napi::CallbackInfo& info) {
  refd_ = info[0].ToBoolean().Value();
  if (poll_) {
    auto* h = reinterpret_cast<uv_handle_t*>(poll_);
    refd_ ? uv_ref(h) : uv_unref(h);
  }
  return info.Env().Undefined();
}

void Socket::Shutdown() {
  if (polling_) {
    polling_ = false;
    uv_poll_stop(poll_);
  }
  if (poll_) {
    // libuv must forget the fd before it is closed; the handle is freed when libuv is done.
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

Napi::Value Socket::Close(const Napi::CallbackInfo& info) {
  StopPolling();
  Shutdown();
  callback_.Reset();
  async_.reset();
  return info.Env().Undefined();
}

// setsockoptFd(fd, level, name, value): for sockets segw did not open here, such as the IKE
// port-4500 UDP socket that needs UDP_ENCAP_ESPINUDP when the kernel does ESP.
Napi::Value SetSockOptFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  int rc;
  if (info[3].IsBuffer()) {
    auto b = info[3].As<Napi::Buffer<uint8_t>>();
    rc = setsockopt(fd, level, name, b.Data(), b.Length());
  } else {
    int v = info[3].As<Napi::Number>().Int32Value();
    rc = setsockopt(fd, level, name, &v, sizeof v);
  }
  if (rc < 0) return Throw(env, "setsockopt", errno);
  return env.Undefined();
}

void InitSock(Napi::Env env, Napi::Object exports) {
  Napi::Object sock = Napi::Object::New(env);
  sock.Set("Socket", Socket::Define(env));
  sock.Set("setsockoptFd", Napi::Function::New(env, SetSockOptFd, "setsockoptFd"));
  exports.Set("sock", sock);
}

}  // namespace
}  // namespace segw::sock

SEGW_REGISTER(sock, segw::sock::InitSock);
