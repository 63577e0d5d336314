#include "gateway/http/http_server.h"

#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "gateway/auth.h"
#include "gateway/config.h"
#include "gateway/http/api_common.h"
#include "gateway/http/json_fields.h"
#include "gateway/http/ollama_api.h"
#include "gateway/http/openai_api.h"
#include "grpcpp/client_context.h"
#include "httplib.h"
#include "jetserve/v1/service.grpc.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"

#ifndef JETSERVE_VERSION
#define JETSERVE_VERSION "0.0.0"
#endif

namespace jetserve::gateway::http {
namespace {

namespace v1 = ::jetserve::v1;

enum class Flavor { kOllama, kOpenAi };

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

Json ErrorBody(Flavor flavor, const absl::Status& status) {
  return flavor == Flavor::kOllama ? OllamaError(status) : OpenAiError(status);
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json");
}

void SendError(httplib::Response& res, Flavor flavor, const absl::Status& status) {
  SendJson(res, HttpStatusFor(status.code()), ErrorBody(flavor, status));
}

// gRPC metadata values must be printable ASCII; anything else would fail the call.
bool PrintableAscii(const std::string& s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool ValidRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) || c == '"' || c == '\\') return false;
  }
  return true;
}

std::string NewRequestId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

// A Generate call whose stream outlives the handler (the content provider reads it).
struct StreamCall {
  std::unique_ptr<grpc::ClientContext> context;
  v1::GenerateRequest request;
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
  v1::GenerateResponse message;
  std::unique_ptr<GenerateFormatter> formatter;
  bool finished = false;

  grpc::Status Finish() {
    finished = true;
    return reader->Finish();
  }
  // Cancels the call and consumes what is left of it.
  void Abandon() {
    if (finished) return;
    context->TryCancel();
    v1::GenerateResponse ignored;
    while (reader->Read(&ignored)) {
    }
    Finish();
  }
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), stub_(v1::Jetserve::NewStub(std::move(channel))) {
    if (options.registry != nullptr) {
      requests_ = &prometheus::BuildCounter()
                       .Name("jetserve_gateway_http_requests_total")
                       .Help("HTTP API responses by endpoint and status code")
                       .Register(*options.registry);
    }
  }

  ~Impl() {
    Stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::StatusOr<int> Start() {
    std::string host;
    int port = 0;
    if (!SplitHostPort(options_.listen, &host, &port) || host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("http_listen: expected \"host:port\", got \"", options_.listen, "\""));
    }
    if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
      return absl::InvalidArgumentError("tls: cert_file and key_file go together");
    }
    if (!options_.tls_cert_file.empty()) {
      server_ = std::make_unique<httplib::SSLServer>(
          options_.tls_cert_file.c_str(), options_.tls_key_file.c_str(),
          options_.tls_client_ca_file.empty() ? nullptr : options_.tls_client_ca_file.c_str());
      if (!server_->is_valid()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "http_listen: cannot load the TLS certificate \"", options_.tls_cert_file, "\", key \"",
            options_.tls_key_file, "\"",
            options_.tls_client_ca_file.empty()
                ? std::string()
                : absl::StrCat(" or client CA \"", options_.tls_client_ca_file, "\"")));
      }
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    const int threads = options_.threads > 0 ? options_.threads : 1;
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_->set_payload_max_length(options_.max_request_bytes);
    server_->set_tcp_nodelay(true);
    server_->set_keep_alive_max_count(1000);
    Routes();
    int bound = port;
    if (port == 0) {
      bound = server_->bind_to_any_port(host);
    } else if (!server_->bind_to_port(host, port)) {
      bound = -1;
    }
    if (bound <= 0) {
      return absl::UnavailableError(
          absl::StrCat("http_listen: cannot listen on \"", options_.listen, "\""));
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    return bound;
  }

  void Stop() {
    if (server_ != nullptr) server_->stop();
  }

 private:
  std::unique_ptr<grpc::ClientContext> NewContext(const httplib::Request& req,
                                                  httplib::Response& res) {
    auto context = std::make_unique<grpc::ClientContext>();
    // One id per HTTP request, however many calls it makes.
    std::string id = res.get_header_value("X-Request-Id");
    if (id.empty()) {
      id = req.get_header_value("X-Request-Id");
      if (!ValidRequestId(id)) id = NewRequestId();
      res.set_header("X-Request-Id", id);
    }
    context->AddMetadata("x-request-id", id);
    for (const char* header : {"authorization", "x-api-key", "traceparent", "tracestate"}) {
      const std::string value = ForwardedHeader(req, header);
      if (!value.empty()) context->AddMetadata(header, value);
    }
    return context;
  }

  // The header as it goes on to the public service: "" when absent, not printable ASCII
  // (not valid gRPC metadata) or longer than 8 KiB.
  static std::string ForwardedHeader(const httplib::Request& req, const char* header) {
    std::string value = req.get_header_value(header);
    if (!PrintableAscii(value) || value.size() > 8192) value.clear();
    return value;
  }

  // Ollama names models "name:tag" and "name" means "name:latest": a ":latest" name that is
  // not configured as such falls back to the bare name.
  std::string OllamaModelName(const httplib::Request& req, httplib::Response& res,
                              const std::string& name) {
    constexpr absl::string_view kLatest = ":latest";
    if (!absl::EndsWith(name, kLatest) || name.size() == kLatest.size()) return name;
    v1::GetModelRequest get;
    get.set_name(name);
    v1::ModelInfo info;
    auto context = NewContext(req, res);
    const grpc::Status status = stub_->GetModel(context.get(), get, &info);
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) return name;
    return name.substr(0, name.size() - kLatest.size());
  }

  // Checks the caller's key (the headers the public service would see), then parses the
  // body; on error answers (401, 400) and returns nullopt.
  std::optional<Json> Body(const httplib::Request& req, httplib::Response& res, Flavor flavor) {
    if (options_.auth != nullptr) {
      const std::string authorization = ForwardedHeader(req, "authorization");
      const std::string x_api_key = ForwardedHeader(req, "x-api-key");
      absl::StatusOr<KeyIdentity> caller =
          options_.auth->Authenticate({.authorization = authorization, .x_api_key = x_api_key});
      if (!caller.ok()) {
        SendError(res, flavor, caller.status());
        return std::nullopt;
      }
    }
    absl::StatusOr<Json> body = ParseJsonObject(req.body);
    if (!body.ok()) {
      SendError(res, flavor, body.status());
      return std::nullopt;
    }
    return *std::move(body);
  }

  void Generate(const httplib::Request& req, httplib::Response& res, Flavor flavor,
                v1::GenerateRequest request, std::unique_ptr<GenerateFormatter> formatter) {
    auto call = std::make_shared<StreamCall>();
    call->context = NewContext(req, res);
    call->request = std::move(request);
    call->formatter = std::move(formatter);
    call->reader = stub_->Generate(call->context.get(), call->request);
    // The first message (or the error) decides the HTTP status.
    if (!call->reader->Read(&call->message)) {
      const grpc::Status status = call->Finish();
      if (!status.ok()) {
        SendError(res, flavor, FromGrpc(status));
        return;
      }
      res.set_content(call->formatter->Finish(), call->formatter->content_type());
      return;
    }
    if (std::string(call->formatter->content_type()) == "application/json") {
      do {
        call->formatter->OnMessage(call->message);
      } while (call->reader->Read(&call->message));
      const grpc::Status status = call->Finish();
      if (!status.ok()) {
        SendError(res, flavor, FromGrpc(status));
        return;
      }
      res.set_content(call->formatter->Finish(), "application/json");
      return;
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        call->formatter->content_type(),
        [call](size_t /*offset*/, httplib::DataSink& sink) {
          do {
            const std::string piece = call->formatter->OnMessage(call->message);
            if (!piece.empty() && !sink.write(piece.data(), piece.size())) {
              call->Abandon();  // the client went away
              return false;
            }
          } while (call->reader->Read(&call->message));
          const grpc::Status status = call->Finish();
          const std::string last = status.ok() ? call->formatter->Finish()
                                               : call->formatter->StreamError(FromGrpc(status));
          sink.write(last.data(), last.size());
          sink.done();
          return true;
        },
        [call](bool /*success*/) { call->Abandon(); });
  }

  void OllamaGenerate(const httplib::Request& req, httplib::Response& res, bool chat) {
    auto body = Body(req, res, Flavor::kOllama);
    if (!body) return;
    absl::StatusOr<OllamaGenerateCall> call =
        chat ? ParseOllamaChat(*body) : ParseOllamaGenerate(*body);
    if (!call.ok()) return SendError(res, Flavor::kOllama, call.status());
    const std::string model = call->request.model();  // echoed as the client wrote it
    call->request.set_model(OllamaModelName(req, res, model));
    if (call->load_only) {
      // Ollama answers an empty prompt once the model is loaded: check that it is served.
      v1::GetModelRequest get;
      get.set_name(call->request.model());
      v1::ModelInfo info;
      auto context = NewContext(req, res);
      const grpc::Status status = stub_->GetModel(context.get(), get, &info);
      if (!status.ok()) return SendError(res, Flavor::kOllama, FromGrpc(status));
      return SendJson(res, 200, OllamaLoadResponse(model, chat, absl::Now()));
    }
    Generate(req, res, Flavor::kOllama, std::move(call->request),
             NewOllamaFormatter(chat, call->stream, model));
  }

  void OpenAiGenerate(const httplib::Request& req, httplib::Response& res, bool chat) {
    auto body = Body(req, res, Flavor::kOpenAi);
    if (!body) return;
    absl::StatusOr<OpenAiGenerateCall> call =
        chat ? ParseOpenAiChat(*body) : ParseOpenAiCompletion(*body);
    if (!call.ok()) return SendError(res, Flavor::kOpenAi, call.status());
    OpenAiFormatterOptions o;
    o.chat = chat;
    o.stream = call->stream;
    o.include_usage = call->include_usage;
    o.model = call->request.model();
    o.created = absl::ToUnixSeconds(absl::Now());
    o.n = call->request.has_n() ? call->request.n() : 1;
    if (call->echo) o.echo_prefix = call->request.prompt();
    o.id = absl::StrCat(chat ? "chatcmpl-" : "cmpl-", NewRequestId());
    Generate(req, res, Flavor::kOpenAi, std::move(call->request), NewOpenAiFormatter(o));
  }

  // Runs Embed; on error answers and returns false.
  bool Embed(const httplib::Request& req, httplib::Response& res, Flavor flavor,
             const v1::EmbedRequest& request, v1::EmbedResponse* response) {
    auto context = NewContext(req, res);
    const grpc::Status status = stub_->Embed(context.get(), request, response);
    if (!status.ok()) SendError(res, flavor, FromGrpc(status));
    return status.ok();
  }

  bool ListModels(const httplib::Request& req, httplib::Response& res, Flavor flavor,
                  v1::ListModelsResponse* models) {
    auto context = NewContext(req, res);
    const grpc::Status status = stub_->ListModels(context.get(), v1::ListModelsRequest(), models);
    if (!status.ok()) SendError(res, flavor, FromGrpc(status));
    return status.ok();
  }

  bool GetModel(const httplib::Request& req, httplib::Response& res, Flavor flavor,
                const std::string& name, v1::ModelInfo* info) {
    v1::GetModelRequest get;
    get.set_name(name);
    auto context = NewContext(req, res);
    const grpc::Status status = stub_->GetModel(context.get(), get, info);
    if (!status.ok()) SendError(res, flavor, FromGrpc(status));
    return status.ok();
  }

  void Routes() {
    using Req = const httplib::Request&;
    using Res = httplib::Response&;
    server_->Get("/", [](Req, Res res) {
      res.set_content("jetserve is running (Ollama- and OpenAI-compatible API)", "text/plain");
    });
    // --- Ollama ---
    server_->Post("/api/generate", [this](Req req, Res res) { OllamaGenerate(req, res, false); });
    server_->Post("/api/chat", [this](Req req, Res res) { OllamaGenerate(req, res, true); });
    for (const bool legacy : {false, true}) {
      server_->Post(legacy ? "/api/embeddings" : "/api/embed", [this, legacy](Req req, Res res) {
        auto body = Body(req, res, Flavor::kOllama);
        if (!body) return;
        absl::StatusOr<v1::EmbedRequest> request = ParseOllamaEmbed(*body, legacy);
        if (!request.ok()) return SendError(res, Flavor::kOllama, request.status());
        const std::string model = request->model();
        request->set_model(OllamaModelName(req, res, model));
        v1::EmbedResponse response;
        if (!Embed(req, res, Flavor::kOllama, *request, &response)) return;
        SendJson(res, 200, OllamaEmbedResponse(model, response, legacy));
      });
    }
    server_->Get("/api/tags", [this](Req req, Res res) {
      v1::ListModelsResponse models;
      if (ListModels(req, res, Flavor::kOllama, &models)) SendJson(res, 200, OllamaTags(models));
    });
    server_->Get("/api/ps", [this](Req req, Res res) {
      v1::ListModelsResponse models;
      if (ListModels(req, res, Flavor::kOllama, &models)) SendJson(res, 200, OllamaPs(models));
    });
    server_->Post("/api/show", [this](Req req, Res res) {
      auto body = Body(req, res, Flavor::kOllama);
      if (!body) return;
      absl::StatusOr<std::string> name = ParseOllamaShow(*body);
      if (!name.ok()) return SendError(res, Flavor::kOllama, name.status());
      v1::ModelInfo info;
      if (GetModel(req, res, Flavor::kOllama, OllamaModelName(req, res, *name), &info)) {
        SendJson(res, 200, OllamaShow(info));
      }
    });
    server_->Get("/api/version", [](Req, Res res) {
      SendJson(res, 200, Json{{"version", JETSERVE_VERSION}});
    });
    const auto unsupported = [](Req, Res res) {
      SendJson(res, 501,
               OllamaError(absl::UnimplementedError(
                   "not supported: jetserve serves the models of its configuration")));
    };
    for (const char* path : {"/api/pull", "/api/push", "/api/create", "/api/copy"}) {
      server_->Post(path, unsupported);
    }
    server_->Delete("/api/delete", unsupported);
    // --- OpenAI ---
    server_->Post("/v1/completions", [this](Req req, Res res) { OpenAiGenerate(req, res, false); });
    server_->Post("/v1/chat/completions",
                  [this](Req req, Res res) { OpenAiGenerate(req, res, true); });
    server_->Post("/v1/embeddings", [this](Req req, Res res) {
      auto body = Body(req, res, Flavor::kOpenAi);
      if (!body) return;
      absl::StatusOr<OpenAiEmbedCall> call = ParseOpenAiEmbeddings(*body);
      if (!call.ok()) return SendError(res, Flavor::kOpenAi, call.status());
      v1::EmbedResponse response;
      if (!Embed(req, res, Flavor::kOpenAi, call->request, &response)) return;
      SendJson(res, 200, OpenAiEmbeddingsResponse(call->request.model(), response, call->base64));
    });
    server_->Get("/v1/models", [this](Req req, Res res) {
      v1::ListModelsResponse models;
      if (ListModels(req, res, Flavor::kOpenAi, &models)) SendJson(res, 200, OpenAiModels(models));
    });
    server_->Get(R"(/v1/models/(.+))", [this](Req req, Res res) {
      v1::ModelInfo info;
      if (GetModel(req, res, Flavor::kOpenAi, req.matches[1].str(), &info)) {
        SendJson(res, 200, OpenAiModel(info));
      }
    });
    // Errors httplib raises itself (unknown path 404, body too large 413, ...) in the
    // shape of the API the path belongs to.
    server_->set_error_handler(httplib::Server::HandlerWithResponse([](Req req, Res res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      const Flavor flavor = req.path.rfind("/v1/", 0) == 0 ? Flavor::kOpenAi : Flavor::kOllama;
      std::string message = absl::StrCat(req.method, " ", req.path, ": HTTP ", res.status);
      if (res.status == 404)
        message = absl::StrCat(req.method, " ", req.path, ": no such endpoint");
      if (res.status == 413) message = "request body: larger than limits.max_request_bytes";
      const Json body = ErrorBody(flavor, res.status == 404 ? absl::NotFoundError(message)
                                                            : absl::InvalidArgumentError(message));
      res.set_content(DumpJson(body), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }));
    if (requests_ != nullptr) {
      // After each response (for streams: after their last chunk).
      server_->set_logger([this](Req req, const httplib::Response& res) {
        requests_->Add({{"endpoint", EndpointLabel(req.path)}, {"code", absl::StrCat(res.status)}})
            .Increment();
      });
    }
    server_->set_exception_handler([](Req, Res res, std::exception_ptr) {
      SendError(res, Flavor::kOllama, absl::InternalError("internal error"));
    });
  }

  // The route a path belongs to (bounded label values).
  static std::string EndpointLabel(const std::string& path) {
    static const char* const kEndpoints[] = {"/",
                                             "/api/generate",
                                             "/api/chat",
                                             "/api/embed",
                                             "/api/embeddings",
                                             "/api/tags",
                                             "/api/ps",
                                             "/api/show",
                                             "/api/version",
                                             "/v1/completions",
                                             "/v1/chat/completions",
                                             "/v1/embeddings",
                                             "/v1/models"};
    for (const char* e : kEndpoints) {
      if (path == e) return e;
    }
    if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{model}";
    return "other";
  }

  const HttpServerOptions options_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  std::unique_ptr<v1::Jetserve::Stub> stub_;
  std::unique_ptr<httplib::Server> server_;  // an SSLServer with TLS
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, std::shared_ptr<grpc::Channel> channel) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>(options, std::move(channel));
  absl::StatusOr<int> port = server->impl_->Start();
  if (!port.ok()) return port.status();
  server->port_ = *port;
  JETSERVE_LOG(kInfo, "http_listening").Add("address", options.listen).Add("port", *port);
  return server;
}

HttpServer::~HttpServer() = default;

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace jetserve::gateway::http
