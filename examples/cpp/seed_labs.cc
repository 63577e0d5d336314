// The seed's labs through jetserve from C++ with the generated gRPC stubs: sentiment with
// Classify (zero-shot labels on an embedding model, or a classifier's own labels), text
// generation with Generate (streamed), and embeddings with Embed.
//
//   jetserve-example-cpp --target localhost:50051 --generator smollm2 --embedder minilm
//       [--classifier minilm] [--labels positive,negative] [--api-key KEY]
//
// --labels are zero-shot candidate labels (embedding or NLI models); "" uses a sentiment
// classifier's own labels.
//
// Any model left out is skipped. Exit status 1 on the first failed call.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "jetserve/v1/service.grpc.pb.h"

namespace {

namespace v1 = ::jetserve::v1;

struct Args {
  std::string target = "localhost:50051";
  std::string generator;
  std::string embedder;
  std::string classifier;
  std::string api_key;
  std::string labels = "positive,negative";
};

void AddAuth(const Args& args, grpc::ClientContext* context) {
  if (!args.api_key.empty()) context->AddMetadata("authorization", "Bearer " + args.api_key);
}

bool Check(const grpc::Status& status, const char* what) {
  if (status.ok()) return true;
  std::fprintf(stderr, "%s failed: %d %s\n", what, static_cast<int>(status.error_code()),
               status.error_message().c_str());
  return false;
}

// Lab "Sentiment Classification": the seed uses pipeline("sentiment-analysis").
bool Sentiment(v1::Jetserve::Stub& stub, const Args& args) {
  v1::ClassifyRequest request;
  request.set_model(args.classifier);
  request.add_inputs()->set_text("Jetson Nano is an awesome edge AI device!");
  for (size_t start = 0; start < args.labels.size();) {
    size_t comma = args.labels.find(',', start);
    if (comma == std::string::npos) comma = args.labels.size();
    request.add_candidate_labels(args.labels.substr(start, comma - start));
    start = comma + 1;
  }
  v1::ClassifyResponse response;
  grpc::ClientContext context;
  AddAuth(args, &context);
  if (!Check(stub.Classify(&context, request, &response), "Classify")) return false;
  std::printf("[classify] ");
  for (const auto& label : response.results(0).labels()) {
    std::printf("%s=%.3f ", label.label().c_str(), label.score());
  }
  std::printf("\n");
  return true;
}

// Lab "Text Generation": the seed generates up to 30 tokens after "Jetson devices are".
bool Generation(v1::Jetserve::Stub& stub, const Args& args) {
  v1::GenerateRequest request;
  request.set_model(args.generator);
  request.set_prompt("Jetson devices are");
  request.mutable_sampling()->set_temperature(0);  // greedy, as model.generate's default
  request.mutable_stop()->set_max_tokens(30);
  grpc::ClientContext context;
  AddAuth(args, &context);
  auto reader = stub.Generate(&context, request);
  std::printf("[generate] Jetson devices are");
  v1::GenerateResponse message;
  int tokens = 0;
  while (reader->Read(&message)) {
    std::printf("%s", message.text().c_str());
    std::fflush(stdout);
    tokens += message.token_ids_size();
  }
  std::printf("\n[generate] %d tokens\n", tokens);
  return Check(reader->Finish(), "Generate");
}

bool Embeddings(v1::Jetserve::Stub& stub, const Args& args) {
  v1::EmbedRequest request;
  request.set_model(args.embedder);
  request.add_inputs("a cat sits on the mat");
  request.add_inputs("a kitten rests on a rug");
  request.add_inputs("stock markets fell today");
  v1::EmbedResponse response;
  grpc::ClientContext context;
  AddAuth(args, &context);
  if (!Check(stub.Embed(&context, request, &response), "Embed")) return false;
  // Vectors are L2-normalized: the dot product is the cosine similarity.
  auto cosine = [&](int a, int b) {
    double dot = 0;
    const auto& x = response.embeddings(a).values();
    const auto& y = response.embeddings(b).values();
    for (int i = 0; i < x.size() && i < y.size(); ++i) dot += double{x[i]} * double{y[i]};
    return dot;
  };
  std::printf("[embed] %d vectors of %d; cos(cat, kitten)=%.3f cos(cat, markets)=%.3f\n",
              response.embeddings_size(), response.embeddings(0).values_size(), cosine(0, 1),
              cosine(0, 2));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--target") {
      args.target = value;
    } else if (flag == "--generator") {
      args.generator = value;
    } else if (flag == "--embedder") {
      args.embedder = value;
    } else if (flag == "--classifier") {
      args.classifier = value;
    } else if (flag == "--labels") {
      args.labels = value;
    } else if (flag == "--api-key") {
      args.api_key = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  auto channel = grpc::CreateChannel(args.target, grpc::InsecureChannelCredentials());
  auto stub = v1::Jetserve::NewStub(channel);
  if (!args.classifier.empty() && !Sentiment(*stub, args)) return 1;
  if (!args.generator.empty() && !Generation(*stub, args)) return 1;
  if (!args.embedder.empty() && !Embeddings(*stub, args)) return 1;
  return 0;
}
