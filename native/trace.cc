// Graph capture with libtorch's tracer: every aten call made between traceBegin and
// traceEnd is recorded (in-place ones too) with its arguments, output shapes and the
// module scope it ran in. The graph is handed to JS as plain objects: the ONNX export
// and the diagrams read it there.
#include "common.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/ir.h>

#include <unordered_map>

namespace resnets {

namespace {

namespace tracer = torch::jit::tracer;
using torch::jit::Node;
using torch::jit::Value;

// Tensor constants met in the graph (tensors made before tracing began and used inside),
// handed to JS as handles so the exporter can read their values.
struct GraphWriter {
  Napi::Env env;
  std::unordered_map<const Value*, uint32_t> ids;
  Napi::Object constants;

  explicit GraphWriter(Napi::Env e) : env(e), constants(Napi::Object::New(e)) {}

  uint32_t idOf(const Value* value) {
    auto found = ids.find(value);
    if (found != ids.end()) return found->second;
    uint32_t id = static_cast<uint32_t>(ids.size());
    ids.emplace(value, id);
    return id;
  }

  // Shape and dtype where the tracer knows them (it records them from real tensors).
  Napi::Object describeValue(const Value* value) {
    auto out = Napi::Object::New(env);
    out.Set("id", idOf(value));
    if (auto tensorType = value->type()->cast<c10::TensorType>()) {
      if (auto sizes = tensorType->sizes().concrete_sizes()) {
        auto shape = Napi::Array::New(env, sizes->size());
        for (size_t i = 0; i < sizes->size(); i++) shape.Set(static_cast<uint32_t>(i), static_cast<double>((*sizes)[i]));
        out.Set("shape", shape);
      }
      if (auto dtype = tensorType->scalarType()) out.Set("dtype", static_cast<double>(static_cast<int>(*dtype)));
    } else {
      out.Set("type", value->type()->str());
    }
    return out;
  }

  Napi::Value constantValue(const c10::IValue& v) {
    if (v.isNone()) return env.Null();
    if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
    if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
    if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
    if (v.isString()) return Napi::String::New(env, v.toStringRef());
    if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
    if (v.isList()) {
      auto list = v.toListRef();
      auto array = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) array.Set(static_cast<uint32_t>(i), constantValue(list[i]));
      return array;
    }
    if (v.isTensor()) {
      // A tensor baked into the graph: the argument refers to it by constant id.
      std::string key = std::to_string(constants.GetPropertyNames().Length());
      constants.Set(key, wrap(env, v.toTensor()));
      auto ref = Napi::Object::New(env);
      ref.Set("tensor", key);
      return ref;
    }
    return Napi::String::New(env, "<" + v.tagKind() + ">");
  }

  // One argument: a reference to another value, a constant, or a list of either.
  Napi::Object describeArgument(const Value* value) {
    auto arg = Napi::Object::New(env);
    const Node* producer = value->node();
    if (producer->kind() == c10::prim::Constant) {
      auto constant = torch::jit::toIValue(value);
      arg.Set("value", constant ? constantValue(*constant) : env.Null());
    } else if (producer->kind() == c10::prim::ListConstruct) {
      auto items = Napi::Array::New(env, producer->inputs().size());
      for (size_t i = 0; i < producer->inputs().size(); i++) {
        items.Set(static_cast<uint32_t>(i), describeArgument(producer->inputs()[i]));
      }
      arg.Set("list", items);
    } else {
      arg.Set("ref", idOf(value));
    }
    return arg;
  }

  Napi::Object describeNode(Node* node) {
    auto out = Napi::Object::New(env);
    out.Set("op", node->kind().toQualString());
    // JS names each scope by the module's full dotted path: the innermost one is the op's module.
    auto scope = node->scope();
    out.Set("scope", scope->isRoot() ? std::string() : std::string(scope->name().toUnqualString()));
    const c10::FunctionSchema* schema = node->maybeSchema();
    auto args = Napi::Array::New(env, node->inputs().size());
    for (size_t i = 0; i < node->inputs().size(); i++) {
      auto arg = describeArgument(node->inputs()[i]);
      if (schema && i < schema->arguments().size()) arg.Set("name", schema->arguments()[i].name());
      args.Set(static_cast<uint32_t>(i), arg);
    }
    out.Set("args", args);
    auto outputs = Napi::Array::New(env, node->outputs().size());
    for (size_t i = 0; i < node->outputs().size(); i++) outputs.Set(static_cast<uint32_t>(i), describeValue(node->outputs()[i]));
    out.Set("outputs", outputs);
    return out;
  }
};

const std::shared_ptr<tracer::TracingState>& activeState() {
  const auto& state = tracer::getTracingState();
  if (!state) throw std::invalid_argument("no trace is in progress (call traceBegin first)");
  return state;
}

}  // namespace

void registerTraceOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "traceBegin", {
    // (inputs[], namedTensors[], names[]): the inputs and every parameter and buffer
    // become named graph inputs, so each use of a weight refers back to its state-dict key.
    if (tracer::isTracing()) throw std::invalid_argument("a trace is already in progress; traces cannot nest");
    auto inputs = tensorList(info[0]);
    auto named = tensorList(info[1]);
    auto namesArray = info[2].As<Napi::Array>();
    if (namesArray.Length() != named.size()) throw std::invalid_argument("traceBegin: one name per named tensor");
    auto state = std::make_shared<tracer::TracingState>();
    for (size_t i = 0; i < inputs.size(); i++) {
      Value* value = state->graph->addInput("input" + std::to_string(i));
      value->inferTypeFrom(inputs[i]);
      state->setValue(inputs[i], value);
    }
    for (size_t i = 0; i < named.size(); i++) {
      Value* value = state->graph->addInput();
      value->inferTypeFrom(named[i]);
      state->setValue(named[i], value);
    }
    tracer::setTracingState(state);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "tracePushScope", {
    activeState()->graph->push_scope(info[0].As<Napi::String>().Utf8Value());
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "tracePopScope", {
    // A traced op that throws leaves no tracing state behind (libtorch's tracer kernels
    // restore it only on success): then there is no scope to pop, and the op's own error
    // is the one to report.
    if (tracer::isTracing()) tracer::getTracingState()->graph->pop_scope();
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "traceAbandon", {
    tracer::setTracingState(nullptr);
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "traceEnd", {
    // (outputs[]) -> { inputs, nodes, outputs, constants }; graph inputs come in the order
    // given to traceBegin (inputs first, then the named tensors).
    auto state = activeState();
    auto outputs = tensorList(info[0]);
    std::vector<Value*> outputValues;
    try {
      for (size_t i = 0; i < outputs.size(); i++) outputValues.push_back(state->getOutput(outputs[i], i));
    } catch (...) {
      tracer::setTracingState(nullptr);
      throw;
    }
    tracer::setTracingState(nullptr);
    Napi::Env env = info.Env();
    GraphWriter writer(env);
    auto graphInputs = Napi::Array::New(env, state->graph->inputs().size());
    for (size_t i = 0; i < state->graph->inputs().size(); i++) {
      graphInputs.Set(static_cast<uint32_t>(i), writer.describeValue(state->graph->inputs()[i]));
    }
    std::vector<Napi::Object> nodes;
    // push_scope opens a prim::TracedModuleForward block per module call: walk into it.
    std::function<void(torch::jit::Block*)> visit = [&](torch::jit::Block* block) {
      for (Node* node : block->nodes()) {
        auto kind = node->kind();
        if (kind == c10::prim::TracedModuleForward) {
          for (auto* inner : node->blocks()) visit(inner);
        } else if (kind != c10::prim::Constant && kind != c10::prim::ListConstruct) {  // those two fold into arguments
          nodes.push_back(writer.describeNode(node));
        }
      }
    };
    visit(state->graph->block());
    auto nodeArray = Napi::Array::New(env, nodes.size());
    for (size_t i = 0; i < nodes.size(); i++) nodeArray.Set(static_cast<uint32_t>(i), nodes[i]);
    auto outputArray = Napi::Array::New(env, outputValues.size());
    for (size_t i = 0; i < outputValues.size(); i++) outputArray.Set(static_cast<uint32_t>(i), writer.describeArgument(outputValues[i]));
    auto result = Napi::Object::New(env);
    result.Set("inputs", graphInputs);
    result.Set("nodes", nodeArray);
    result.Set("outputs", outputArray);
    result.Set("constants", writer.constants);
    return result;
  });
}

}  // namespace resnets
