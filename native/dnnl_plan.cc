// The oneDNN inference plan's life: built from the lowered graph JS hands over, its
// activation buffers pooled by liveness, run on dense float32 inputs, described for
// reports (which kernel each step got, which instruction set oneDNN dispatches to).
#include "dnnl_plan.h"

#include <climits>
#include <map>
#include <stdexcept>

namespace resnets {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

constexpr int kScratchpad = INT_MIN + 1;

tag plainTag(size_t rank) {
  switch (rank) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    default: throw std::invalid_argument("dnnl plan: tensors of rank " + std::to_string(rank) + " are not supported");
  }
}

// Buffers for every non-constant value, reused once the values in them are dead:
// best fit among the free ones, a new one when none is large enough.
void finalize(DnnlPlan& plan) {
  std::map<int, size_t> firstUse, lastUse;
  std::map<int, size_t> bytes;
  auto pooled = [&](int value) {
    return value != kScratchpad && value != plan.inputId && !plan.constants.count(value) &&
           !contains(plan.denseOutputIds, value);
  };
  for (size_t i = 0; i < plan.steps.size(); i++) {
    for (auto [arg, value] : plan.steps[i].args) {
      if (!pooled(value)) continue;
      int root = plan.root(value);
      firstUse.emplace(root, i);
      lastUse[root] = i;
      bytes[root] = std::max(bytes[root], plan.desc(value).get_size());
    }
  }
  std::map<int, void*> bufferOf;
  std::multimap<size_t, void*> free;
  std::map<void*, size_t> capacity;
  std::vector<std::vector<int>> startAt(plan.steps.size()), endAt(plan.steps.size());
  for (auto [root, step] : firstUse) startAt[step].push_back(root);
  for (auto [root, step] : lastUse) endAt[step].push_back(root);
  for (size_t i = 0; i < plan.steps.size(); i++) {
    for (int root : startAt[i]) {
      auto fit = free.lower_bound(bytes[root]);
      if (fit != free.end()) {
        bufferOf[root] = fit->second;
        free.erase(fit);
        continue;
      }
      at::Tensor buffer = at::empty({static_cast<int64_t>(std::max<size_t>(bytes[root], 1))}, at::kByte);
      plan.buffers.push_back(buffer);
      plan.activationBytes += buffer.numel();
      capacity[buffer.data_ptr()] = buffer.numel();
      bufferOf[root] = buffer.data_ptr();
    }
    for (int root : endAt[i]) free.emplace(capacity[bufferOf[root]], bufferOf[root]);
  }
  plan.scratchpad = at::empty({static_cast<int64_t>(std::max<size_t>(plan.scratchpadBytes, 1))}, at::kByte);
  for (auto& [id, memory] : plan.constants) plan.memories[id] = memory;
  plan.memories[kScratchpad] = dnnl::memory(plan.plainDesc({static_cast<int64_t>(plan.scratchpad.numel())}, memory::data_type::u8),
                                            plan.engine, plan.scratchpad.data_ptr());
  plan.memories[plan.inputId] = dnnl::memory(plan.desc(plan.inputId), plan.engine, DNNL_MEMORY_NONE);
  for (int id : plan.denseOutputIds) plan.memories[id] = dnnl::memory(plan.desc(id), plan.engine, DNNL_MEMORY_NONE);
  for (auto& step : plan.steps) {
    for (auto [arg, value] : step.args) {
      if (!plan.memories.count(value)) plan.memories[value] = dnnl::memory(plan.desc(value), plan.engine, bufferOf.at(plan.root(value)));
      step.execArgs.emplace(arg, plan.memories.at(value));
    }
  }
}

// Plans carry their own Node-API type tag, so another External (a tensor handle, another
// addon's object) is refused rather than read as a plan.
constexpr napi_type_tag kPlanTag = {0x7265736e6574732dULL, 0x646e6e6c2d706c31ULL};

DnnlPlan& planOf(const Napi::Value& value) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(value.Env(), value, &kPlanTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(value.Env(), "expected a dnnl plan (from dnnlPlanCreate)");
  DnnlPlan& plan = *value.As<Napi::External<DnnlPlan>>().Data();
  if (plan.steps.empty()) throw std::invalid_argument("this dnnl plan was freed (dnnlPlanFree)");
  return plan;
}

}  // namespace

const memory::desc& DnnlPlan::desc(int value) const {
  auto found = descs.find(value);
  if (found == descs.end()) throw std::invalid_argument("dnnl plan: value " + std::to_string(value) + " is read before it is made");
  return found->second;
}

memory::desc DnnlPlan::plainDesc(const memory::dims& dims, memory::data_type type) const {
  return memory::desc(dims, type, plainTag(dims.size()));
}

void DnnlPlan::addStep(dnnl::primitive primitive, std::vector<std::pair<int, int>> args, const std::string& name, const char* impl) {
  steps.push_back({std::move(primitive), std::move(args), name, impl ? impl : ""});
}

int DnnlPlan::inLayout(int value, const memory::desc& wanted, const std::string& name) {
  if (desc(value) == wanted) return value;
  // Values are never written after they are made (a residual sum writes a new value), so a copy stays valid.
  auto& copies = copiesOf[value];
  for (const auto& [layout, copy] : copies)
    if (layout == wanted) return copy;
  int copy;
  auto constant = constants.find(value);
  if (constant != constants.end()) {
    // A constant (a zero fill, say) is reordered now, once, instead of by a step of every run.
    copy = addConstant(reorderedConstant(constant->second, wanted));
  } else {
    copy = nextTemporary--;
    descs[copy] = wanted;
    auto pd = dnnl::reorder::primitive_desc(engine, desc(value), engine, wanted);
    addStep(dnnl::reorder(pd), {{DNNL_ARG_SRC, value}, {DNNL_ARG_DST, copy}}, name + " (reorder in)", pd.impl_info_str());
  }
  copies.push_back({wanted, copy});
  return copy;
}

int DnnlPlan::inPlanType(int value, const std::string& name) {
  if (desc(value).data_type() == dtype) return value;
  return inLayout(value, plainDesc(desc(value).dims(), dtype), name);
}

dnnl::memory DnnlPlan::constant(const at::Tensor& tensor, const memory::dims& dims, memory::format_tag from, const memory::desc& to) {
  at::Tensor dense = tensor.to(at::kFloat).contiguous();
  if (dense.numel() != static_cast<int64_t>(memory::desc(dims, memory::data_type::f32, from).get_size() / sizeof(float))) {
    throw std::invalid_argument("dnnl plan: a constant of " + std::to_string(dense.numel()) + " values does not fit its shape");
  }
  return reorderedConstant(dnnl::memory(memory::desc(dims, memory::data_type::f32, from), engine, dense.data_ptr()), to);
}

dnnl::memory DnnlPlan::reorderedConstant(dnnl::memory source, const memory::desc& to) {
  at::Tensor storage = at::empty({static_cast<int64_t>(to.get_size())}, at::kByte);
  constantStorage.push_back(storage);
  dnnl::memory target(to, engine, storage.data_ptr());
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
  return target;
}

int DnnlPlan::addConstant(dnnl::memory memory) {
  int id = nextTemporary--;
  descs[id] = memory.get_desc();
  constants[id] = std::move(memory);
  return id;
}

std::string dnnlIsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "unknown (" + std::to_string(static_cast<int>(isa)) + ")";
  }
}

void registerDnnlOps(Napi::Env env, Exports exports) {
  RN_FN(exports, env, "dnnlPlanCreate", {
    // ({ dtype: 'f32' | 'bf16', input: { id, shape }, outputs: ids[], nodes: [...], tune?, knownChoices? }) -> plan
    auto spec = info[0].As<Napi::Object>();
    auto plan = std::make_unique<DnnlPlan>();
    auto dtype = spec.Get("dtype").As<Napi::String>().Utf8Value();
    if (dtype != "f32" && dtype != "bf16") throw std::invalid_argument("dnnlPlanCreate: dtype must be 'f32' or 'bf16', got '" + dtype + "'");
    plan->dtype = dtype == "bf16" ? memory::data_type::bf16 : memory::data_type::f32;
    auto input = spec.Get("input").As<Napi::Object>();
    plan->inputId = static_cast<int>(intArg(input.Get("id")));
    plan->tune = spec.Has("tune") && spec.Get("tune").ToBoolean().Value();
    if (spec.Has("knownChoices")) {
      auto known = spec.Get("knownChoices").As<Napi::Object>();
      auto problems = known.GetPropertyNames();
      for (uint32_t i = 0; i < problems.Length(); i++) {
        auto problem = problems.Get(i).As<Napi::String>();
        plan->knownChoices[problem.Utf8Value()] = known.Get(problem).As<Napi::String>().Utf8Value();
      }
    }
    plan->inputDims = intList(input.Get("shape"));
    plan->descs[plan->inputId] = plan->plainDesc(memory::dims(plan->inputDims.begin(), plan->inputDims.end()), memory::data_type::f32);
    auto nodes = spec.Get("nodes").As<Napi::Array>();
    for (uint32_t i = 0; i < nodes.Length(); i++) {
      auto node = nodes.Get(i).As<Napi::Object>();
      for (int64_t id : intList(node.Get("inputs"))) plan->lastReader[static_cast<int>(id)] = i;
      if (node.Has("postOps")) {
        auto postOps = node.Get("postOps").As<Napi::Array>();
        for (uint32_t p = 0; p < postOps.Length(); p++) {
          auto op = postOps.Get(p).As<Napi::Object>();
          if (op.Has("input")) plan->lastReader[static_cast<int>(intArg(op.Get("input")))] = i;
        }
      }
    }
    for (int64_t id : intList(spec.Get("outputs"))) {
      plan->outputIds.push_back(static_cast<int>(id));
      plan->lastReader[static_cast<int>(id)] = nodes.Length();
    }
    for (uint32_t i = 0; i < nodes.Length(); i++) buildDnnlNode(*plan, nodes.Get(i).As<Napi::Object>(), i);
    for (int output : plan->outputIds) {
      int dense = plan->nextTemporary--;
      plan->descs[dense] = plan->plainDesc(plan->desc(output).dims(), memory::data_type::f32);
      auto pd = dnnl::reorder::primitive_desc(plan->engine, plan->desc(output), plan->engine, plan->descs[dense]);
      plan->addStep(dnnl::reorder(pd), {{DNNL_ARG_SRC, output}, {DNNL_ARG_DST, dense}}, "output (reorder out)", pd.impl_info_str());
      plan->denseOutputIds.push_back(dense);
    }
    finalize(*plan);
    auto handle = Napi::External<DnnlPlan>::New(info.Env(), plan.release(), [](Napi::Env, DnnlPlan* p) { delete p; });
    napi_type_tag_object(info.Env(), handle, &kPlanTag);
    syncExternalMemory(info.Env());
    return handle;
  });
  RN_FN(exports, env, "dnnlPlanRun", {
    // (plan, input) -> outputs[]: dense float32 tensors, in the shapes of the plan's values
    DnnlPlan& plan = planOf(info[0]);
    at::Tensor input = RN_T(1);
    if (input.scalar_type() != at::kFloat || !input.device().is_cpu() || input.is_mkldnn()) {
      throw std::invalid_argument("dnnlPlanRun: the input must be a dense float32 CPU tensor");
    }
    if (input.sizes().vec() != plan.inputDims) {
      throw std::invalid_argument("dnnlPlanRun: the plan was built for input " + c10::str(at::IntArrayRef(plan.inputDims)) +
                                  ", got " + c10::str(input.sizes()));
    }
    input = input.contiguous();
    plan.memories.at(plan.inputId).set_data_handle(input.data_ptr());
    std::vector<at::Tensor> outputs;
    for (int dense : plan.denseOutputIds) {
      auto dims = plan.desc(dense).dims();
      outputs.push_back(at::empty(at::IntArrayRef(dims), at::kFloat));
      plan.memories.at(dense).set_data_handle(outputs.back().data_ptr());
    }
    for (auto& step : plan.steps) step.primitive.execute(plan.stream, step.execArgs);
    plan.stream.wait();
    return wrapList(info.Env(), outputs);
  });
  RN_FN(exports, env, "dnnlPlanFree", {
    // (plan): its weights and buffers go now, not when the handle is collected
    DnnlPlan& plan = planOf(info[0]);
    plan = DnnlPlan();
    syncExternalMemory(info.Env());
    return info.Env().Undefined();
  });
  RN_FN(exports, env, "dnnlPlanInfo", {
    // (plan) -> { steps: [{ name, impl }], activationBytes, constantBytes, scratchpadBytes, tuningChoices? }
    DnnlPlan& plan = planOf(info[0]);
    Napi::Env env = info.Env();
    auto steps = Napi::Array::New(env, plan.steps.size());
    for (size_t i = 0; i < plan.steps.size(); i++) {
      auto step = Napi::Object::New(env);
      step.Set("name", plan.steps[i].name);
      step.Set("impl", plan.steps[i].impl);
      steps.Set(static_cast<uint32_t>(i), step);
    }
    int64_t constantBytes = 0;
    for (const auto& storage : plan.constantStorage) constantBytes += storage.numel();
    auto out = Napi::Object::New(env);
    out.Set("steps", steps);
    out.Set("activationBytes", static_cast<double>(plan.activationBytes));
    out.Set("constantBytes", static_cast<double>(constantBytes));
    out.Set("scratchpadBytes", static_cast<double>(plan.scratchpadBytes));
    if (plan.tune) {
      auto choices = Napi::Array::New(env, plan.tuningChoices.size());
      for (size_t i = 0; i < plan.tuningChoices.size(); i++) {
        auto choice = Napi::Object::New(env);
        choice.Set("problem", plan.tuningChoices[i].problem);
        choice.Set("choice", plan.tuningChoices[i].choice);
        choice.Set("measured", plan.tuningChoices[i].measured);
        choices.Set(static_cast<uint32_t>(i), choice);
      }
      out.Set("tuningChoices", choices);
    }
    return out;
  });
  RN_FN(exports, env, "dnnlCpuInfo", {
    // () -> { isa, version }: the instruction set oneDNN dispatches to on this CPU
    const dnnl_version_t* version = dnnl_version();
    auto out = Napi::Object::New(info.Env());
    out.Set("isa", dnnlIsaName(dnnl::get_effective_cpu_isa()));
    out.Set("version", std::to_string(version->major) + "." + std::to_string(version->minor) + "." + std::to_string(version->patch));
    return out;
  });
}

}  // namespace resnets
