// JavaScript face of the ESP engine: class EspEngine (control, counters, IKE on port 4500,
// test entry points that run one packet through the same stage functions as the pipeline)
// and espCryptoBench / espIntegrityKat. Registered as component "esp".
#include <napi.h>

#include <cstring>

#include "esp/convert.h"
#include "esp/engine.h"
#include "registry.h"

namespace segw::esp {
namespace {

Napi::FunctionReference engineClass;

class EspEngine : public Napi::ObjectWrap<EspEngine> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EspEngine(const Napi::CallbackInfo& info);
  ~EspEngine() override { shutdown(); }
  // The engine, or nullptr (JavaScript exception pending) once closed.
  Engine* engine() {
    if (!engine_) Napi::Error::New(Env(), "esp engine: closed").ThrowAsJavaScriptException();
    return engine_.get();
  }

 private:
  void shutdown();
  Napi::Value Throw(Napi::Env env, const std::string& msg) {
    Napi::Error::New(env, "esp engine: " + msg).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Engine* live(const Napi::CallbackInfo& info) {
    if (!engine_) Throw(info.Env(), "closed");
    return engine_.get();
  }
  Napi::Value OpenTun(const Napi::CallbackInfo& info);
  Napi::Value OpenSocket(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value AddSa(const Napi::CallbackInfo& info);
  Napi::Value UpdateSa(const Napi::CallbackInfo& info);
  Napi::Value RemoveSa(const Napi::CallbackInfo& info);
  Napi::Value AddPolicy(const Napi::CallbackInfo& info);
  Napi::Value RemovePolicy(const Napi::CallbackInfo& info);
  Napi::Value ReadCounters(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SendIke(const Napi::CallbackInfo& info);
  void Deliver(Napi::Env env);

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference onIke_, onEvents_;
};

Napi::Function EspEngine::Define(Napi::Env env) {
  return DefineClass(env, "EspEngine",
                     {InstanceMethod("openTun", &EspEngine::OpenTun), InstanceMethod("openSocket", &EspEngine::OpenSocket),
                      InstanceMethod("start", &EspEngine::Start), InstanceMethod("close", &EspEngine::Close),
                      InstanceMethod("addSa", &EspEngine::AddSa), InstanceMethod("updateSa", &EspEngine::UpdateSa),
                      InstanceMethod("removeSa", &EspEngine::RemoveSa),
                      InstanceMethod("addPolicy", &EspEngine::AddPolicy),
                      InstanceMethod("removePolicy", &EspEngine::RemovePolicy),
                      InstanceMethod("readCounters", &EspEngine::ReadCounters), InstanceMethod("stats", &EspEngine::Stats),
                      InstanceMethod("sendIke", &EspEngine::SendIke)});
}

EspEngine::EspEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EspEngine>(info) {
  Napi::Env env = info.Env();
  EngineOptions o;
  if (info.Length() > 0 && info[0].IsObject()) {
    auto opts = info[0].As<Napi::Object>();
    if (opts.Get("maxSas").IsNumber()) o.maxSas = opts.Get("maxSas").As<Napi::Number>().Uint32Value();
    if (opts.Get("workers").IsNumber()) o.workers = opts.Get("workers").As<Napi::Number>().Int32Value();
    if (opts.Get("laneThreads").IsNumber()) o.laneThreads = opts.Get("laneThreads").As<Napi::Number>().Int32Value();
    if (opts.Get("onIke").IsFunction()) onIke_ = Napi::Persistent(opts.Get("onIke").As<Napi::Function>());
    if (opts.Get("onEvents").IsFunction()) onEvents_ = Napi::Persistent(opts.Get("onEvents").As<Napi::Function>());
  }
  engine_ = std::make_unique<Engine>(o);
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "segw-esp", 0, 1);
  tsfn_.Unref(env);
  engine_->setNotify([this] {
    tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function) { Deliver(env); });
  });
}

void EspEngine::shutdown() {
  if (!engine_) return;
  engine_->stop();
  engine_.reset();
  tsfn_.Release();
}

// Runs on the JavaScript thread once per burst: hands IKE datagrams and events over in batches.
void EspEngine::Deliver(Napi::Env env) {
  if (!engine_) return;
  std::vector<IkeDatagram> ike;
  std::vector<SaEvent> events;
  engine_->drain(ike, events);
  Napi::HandleScope scope(env);
  if (!ike.empty() && !onIke_.IsEmpty()) {
    auto a = Napi::Array::New(env, ike.size());
    for (size_t i = 0; i < ike.size(); i++) {
      auto d = Napi::Object::New(env);
      d.Set("socket", ike[i].socket);
      d.Set("data", Napi::Buffer<uint8_t>::Copy(env, ike[i].data.data(), ike[i].data.size()));
      d.Set("remote", js::endpointToJs(env, ike[i].remote));
      a.Set(uint32_t(i), d);
    }
    onIke_.Call({a});
  }
  if (!events.empty() && !onEvents_.IsEmpty()) {
    static const char* const reasons[] = {"bytes", "packets", "sequence"};
    auto a = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) {
      auto ev = Napi::Object::New(env);
      ev.Set("sa", events[i].saId);
      const SaEvent& e = events[i];
      if (e.kind == SaEventKind::Mapping) {
        ev.Set("kind", "mapping");
        ev.Set("remote", js::endpointToJs(env, e.remote));
      } else {
        ev.Set("kind", e.kind == SaEventKind::Hard ? "hard" : "soft");
        ev.Set("reason", reasons[size_t(e.reason)]);
      }
      a.Set(uint32_t(i), ev);
    }
    onEvents_.Call({a});
  }
}

Napi::Value EspEngine::OpenTun(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  auto o = info[0].As<Napi::Object>();
  std::string name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : "segw%d";
  int mtu = o.Get("mtu").IsNumber() ? o.Get("mtu").As<Napi::Number>().Int32Value() : 1400;
  int queues = o.Get("queues").IsNumber() ? o.Get("queues").As<Napi::Number>().Int32Value() : 1;
  bool offload = !o.Get("offload").IsBoolean() || o.Get("offload").As<Napi::Boolean>().Value();
  std::string netns = o.Get("netns").IsString() ? o.Get("netns").As<Napi::String>().Utf8Value() : "";
  std::string err;
  if (!e->openTun(name, mtu, queues, offload, netns, err)) return Throw(info.Env(), err);
  return Napi::String::New(info.Env(), e->tun().name);
}

Napi::Value EspEngine::OpenSocket(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  std::string address = info[0].As<Napi::String>();
  uint16_t port = uint16_t(info[1].As<Napi::Number>().Uint32Value());
  bool udp = info[2].As<Napi::Boolean>().Value();
  Endpoint ep;
  if (!parseEndpoint(address, port, ep)) return Throw(info.Env(), "bad address " + address);
  std::string netns = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  std::string err;
  int i = e->openSocket(ep, udp, netns, err);
  if (i < 0) return Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), i);
}

Napi::Value EspEngine::Start(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  std::string err;
  if (e && !e->start(err)) return Throw(info.Env(), err);
  return info.Env().Undefined();
}

Napi::Value EspEngine::Close(const Napi::CallbackInfo& info) {
  shutdown();
  return info.Env().Undefined();
}

Napi::Value EspEngine::AddSa(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  SaSpec spec;
  std::string err;
  if (!js::toSaSpec(info[0].As<Napi::Object>(), spec, err)) return Throw(info.Env(), err);
  uint32_t id = e->addSa(std::move(spec), err);
  if (!id) return Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value EspEngine::UpdateSa(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  SaPath p;
  std::string err;
  if (!js::toPath(info[1].As<Napi::Object>(), p, err) || !e->updateSaPath(info[0].As<Napi::Number>().Uint32Value(), p, err))
    return Throw(info.Env(), err);
  return info.Env().Undefined();
}

Napi::Value EspEngine::RemoveSa(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), e->removeSa(info[0].As<Napi::Number>().Uint32Value()));
}

Napi::Value EspEngine::AddPolicy(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  PolicySpec spec;
  std::string err;
  if (!js::toPolicySpec(info[0].As<Napi::Object>(), spec, err)) return Throw(info.Env(), err);
  uint32_t id = e->addPolicy(std::move(spec), err);
  if (!id) return Throw(info.Env(), err);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value EspEngine::RemovePolicy(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), e->removePolicy(info[0].As<Napi::Number>().Uint32Value()));
}

// Counters of many SAs in one call: kSaCounterFields values per id, in the order of
// espSaCounterFields (sa.h SaCounterField); all-ones for an id that does not exist.
Napi::Value EspEngine::ReadCounters(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  auto ids = info[0].As<Napi::Uint32Array>();
  auto out = Napi::BigUint64Array::New(info.Env(), ids.ElementLength() * kSaCounterFields);
  for (size_t i = 0; i < ids.ElementLength(); i++) {
    uint64_t c[kSaCounterFields];
    if (!e->counters(ids[i], c)) memset(c, 0xff, sizeof c);
    for (size_t k = 0; k < kSaCounterFields; k++) out[i * kSaCounterFields + k] = c[k];
  }
  return out;
}

Napi::Value EspEngine::Stats(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  Napi::Env env = info.Env();
  const EngineStats& s = e->stats();
  auto in = Napi::Object::New(env), out = Napi::Object::New(env);
  for (size_t v = 0; v < size_t(Verdict::Count); v++) {
    in.Set(verdictName(Verdict(v)), Napi::Number::New(env, double(s.in[v].load())));
    out.Set(verdictName(Verdict(v)), Napi::Number::New(env, double(s.out[v].load())));
  }
  auto o = Napi::Object::New(env);
  o.Set("in", in);
  o.Set("out", out);
  auto num = [&](const char* k, const std::atomic<uint64_t>& v) { o.Set(k, Napi::Number::New(env, double(v.load()))); };
  num("ike", s.ike), num("keepalives", s.keepalives), num("ikeDropped", s.ikeDropped);
  num("sendErrors", s.sendErrors), num("tunWriteErrors", s.tunWriteErrors), num("tunReads", s.tunReads);
  num("tunWrites", s.tunWrites), num("udpSends", s.udpSends), num("udpRecvs", s.udpRecvs), num("gsoSends", s.gsoSends);
  num("retired", s.retired), num("polls", s.polls), num("tunDirect", s.tunDirect);
  o.Set("sas", Napi::Number::New(env, double(e->saCount())));
  return o;
}

Napi::Value EspEngine::SendIke(const Napi::CallbackInfo& info) {
  Engine* e = live(info);
  if (!e) return info.Env().Undefined();
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  Endpoint to;
  std::string addr = info[2].As<Napi::String>();
  if (!parseEndpoint(addr, uint16_t(info[3].As<Napi::Number>().Uint32Value()), to)) return Throw(info.Env(), "bad address " + addr);
  std::string err;
  if (!e->sendIke(info[0].As<Napi::Number>().Int32Value(), data.Data(), data.Length(), to, err)) return Throw(info.Env(), err);
  return info.Env().Undefined();
}

}  // namespace

// Test entry points and the crypto bench live in binding_test.cc (exports espTest, espCryptoBench, ...).
void initTestHooks(Napi::Env env, Napi::Object exports);

// The engine behind a JavaScript EspEngine, for the test entry points; nullptr (with a
// JavaScript exception pending) if `v` is not an open EspEngine.
Engine* engineOf(Napi::Value v) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(engineClass.Value())) {
    Napi::TypeError::New(env, "espTest: the first argument is an EspEngine").ThrowAsJavaScriptException();
    return nullptr;
  }
  EspEngine* w = EspEngine::Unwrap(v.As<Napi::Object>());
  return w ? w->engine() : nullptr;
}

namespace {

void InitEsp(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = EspEngine::Define(env);
  engineClass = Napi::Persistent(cls);
  engineClass.SuppressDestruct();
  exports.Set("EspEngine", cls);
  auto fields = Napi::Array::New(env, kSaCounterFields);
  for (size_t f = 0; f < kSaCounterFields; f++) fields.Set(uint32_t(f), saCounterName(SaCounterField(f)));
  exports.Set("espSaCounterFields", fields);
  auto names = Napi::Array::New(env);
  for (size_t v = 0; v < size_t(Verdict::Count); v++) names.Set(uint32_t(v), verdictName(Verdict(v)));
  exports.Set("espVerdicts", names);
  initTestHooks(env, exports);
}

}  // namespace
}  // namespace segw::esp

SEGW_REGISTER(esp, segw::esp::InitEsp);
