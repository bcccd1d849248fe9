// compiler/jit/jit.cpp: IR to LLVM IR, compiled with ORC LLJIT.
//
// Each block of a rule becomes one function with the NativeBlock signature
// (runtime/interpreter.h). Registers live in the caller's array of runtime::Value
// ({int64 v; bool known}, 16 bytes); every instruction stores its result there, so the
// engine reads lets and `when` conditions as it does after the interpreter, and the
// runtime's helpers read operands where the interpreter would. Operations on numbers,
// booleans and unknown (CQL's three-valued logic), band tables, selects and integer
// conversions are generated inline, branch-free except for coverage; window access and
// the operations whose reference implementation needs 128-bit rounding, logarithms or
// texts call cdr_rt_inst, which runs the interpreter's code for that one instruction.
// An unknown result always has v = 0, as the interpreter's, so content hashes agree.
#include "compiler/jit/jit.h"

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

#include "stdlib/decimal.h"
#include "stdlib/hash.h"

namespace cdr::jit {
namespace {

using ir::Kind;
using ir::Op;

static_assert(sizeof(runtime::Value) == 16 && offsetof(runtime::Value, v) == 0 && offsetof(runtime::Value, known) == 8,
              "the native code's register layout");

// What the generated code depends on: the blocks, the band tables, the texts' count, and
// which registers it stores (the lets, which of them other rules read, the `when`
// conditions).
std::string CacheKey(const ir::Rule& rule, int opt) {
  std::string s = "opt" + std::to_string(opt) + ";texts" + std::to_string(rule.texts.size()) + ";L";
  for (const auto& l : rule.lets) s += std::to_string(l.inst) + (l.published ? "p," : ",");
  s += ";W";
  for (const auto& w : rule.whens) s += std::to_string(w.cond) + ",";
  s += ";";
  for (const auto& b : rule.blocks) {
    s += "B";
    for (const auto& in : b.insts) {
      s += std::to_string(static_cast<int>(in.op)) + "," + std::to_string(static_cast<int>(in.kind)) + "," +
           std::to_string(in.a) + "," + std::to_string(in.b) + "," + std::to_string(in.c) + "," +
           std::to_string(in.imm) + "," + std::to_string(in.imm2) + "," + std::to_string(in.aux) + ";";
    }
  }
  for (const auto& t : rule.bands) {
    s += "T";
    for (const auto& r : t.rows)
      s += std::to_string(r.is_else) + "," + std::to_string(r.low) + "," + std::to_string(r.high) + "," +
           std::to_string(r.value) + ";";
  }
  return stdlib::Sha256Hex(s).substr(0, 32);
}

class BlockEmitter {
 public:
  BlockEmitter(llvm::LLVMContext& ctx, llvm::Module& m, const ir::Rule& rule, int block, const std::string& name)
      : ctx_(ctx), m_(m), rule_(rule), block_(block), b_(ctx) {
    i1_ = llvm::Type::getInt1Ty(ctx);
    i8_ = llvm::Type::getInt8Ty(ctx);
    i32_ = llvm::Type::getInt32Ty(ctx);
    i64_ = llvm::Type::getInt64Ty(ctx);
    ptr_ = llvm::PointerType::get(ctx, 0);
    value_ = llvm::StructType::get(ctx, {i64_, i8_});
    auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr_, i64_, ptr_, ptr_, i32_}, false);
    env_ty_ = llvm::StructType::get(ctx, {ptr_, ptr_, ptr_, i64_});  // NativeEnv
    span_ty_ = llvm::StructType::get(ctx, {ptr_, i64_});       // EventSpan
    list_ty_ = llvm::ArrayType::get(i8_, sizeof(runtime::EventList));  // an EventList: its span first
    event_ty_ = llvm::ArrayType::get(i8_, sizeof(runtime::StoredEvent));
    fn_ = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
    auto* inst_ty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr_, i32_, i32_, i64_, ptr_, ptr_}, false);
    rt_inst_ = m.getOrInsertFunction("cdr_rt_inst", inst_ty);
    auto* cover_ty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr_, i32_, i32_}, false);
    rt_cover_ = m.getOrInsertFunction("cdr_rt_cover", cover_ty);
    auto* agg_ty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr_, i32_, i32_, i64_, ptr_}, false);
    rt_agg_ = m.getOrInsertFunction("cdr_rt_agg", agg_ty);
  }

  /// Emits the block; `specialize`: with a second copy for calls without flags (worth
  /// it only when the optimiser runs).
  void Emit(bool specialize) {
    auto args = fn_->arg_begin();
    ctx_arg_ = &*args++;
    now_ = &*args++;
    regs_ = &*args++;
    env_ = &*args++;
    llvm::Value* flags = &*args++;
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", fn_));
    texts_ = b_.CreateLoad(ptr_, b_.CreateStructGEP(env_ty_, env_, 0));
    lists_ = b_.CreateLoad(ptr_, b_.CreateStructGEP(env_ty_, env_, 1));
    slot_list_ = b_.CreateLoad(ptr_, b_.CreateStructGEP(env_ty_, env_, 2));
    retention_ = b_.CreateLoad(i64_, b_.CreateStructGEP(env_ty_, env_, 3));
    const auto& insts = rule_.blocks[static_cast<size_t>(block_)].insts;
    if (!specialize) {
      Observed(insts, /*all_lets=*/true);
      flags_ = flags;
      Body();
      return;
    }
    // Two copies of the block. One for the engine's common call (no flags: no evidence,
    // no coverage, and only the `when` conditions and the lets other rules read are
    // wanted), where the optimiser drops every flag test and the runtime calls they
    // guard, and the other lets stay in machine registers; one for any flags.
    auto* plain = llvm::BasicBlock::Create(ctx_, "plain", fn_);
    auto* any = llvm::BasicBlock::Create(ctx_, "any", fn_);
    b_.CreateCondBr(b_.CreateICmpEQ(flags, llvm::ConstantInt::get(i32_, 0)), plain, any);
    b_.SetInsertPoint(plain);
    Observed(insts, /*all_lets=*/false);
    flags_ = llvm::ConstantInt::get(i32_, 0);
    Body();
    b_.SetInsertPoint(any);
    Observed(insts, /*all_lets=*/true);
    flags_ = flags;
    Body();
  }

 private:
  struct V {
    llvm::Value* v;
    llvm::Value* known;  // i1
  };

  void Body() {
    const auto& insts = rule_.blocks[static_cast<size_t>(block_)].insts;
    ssa_.assign(insts.size(), V{nullptr, nullptr});
    for (size_t i = 0; i < insts.size(); ++i) One(insts, static_cast<int32_t>(i));
    b_.CreateRetVoid();
  }

  llvm::Value* Reg(int32_t i) { return b_.CreateConstInBoundsGEP1_64(value_, regs_, static_cast<uint64_t>(i)); }
  // Which registers must be in memory: the `when` conditions and the lets (the engine
  // reads them; without `all_lets`, only the lets other rules read), the operands of what
  // the runtime computes, and the condition of a `for` (read by the runtime from this
  // block). The others stay in SSA values.
  void Observed(const std::vector<ir::Inst>& insts, bool all_lets) {
    observed_.assign(insts.size(), false);
    auto mark = [&](ir::InstId x) {
      if (x >= 0 && static_cast<size_t>(x) < observed_.size()) observed_[static_cast<size_t>(x)] = true;
    };
    if (block_ == 0) {
      for (const auto& l : rule_.lets) {
        if (all_lets || l.published) mark(l.inst);
      }
      for (const auto& w : rule_.whens) mark(w.cond);
    }
    for (const auto& b : rule_.blocks) {
      for (const auto& in : b.insts) {
        if (in.op == Op::Sustained && in.aux == block_) mark(static_cast<ir::InstId>(in.imm2));
      }
    }
    for (const auto& in : insts) {
      if (!Inline(in, insts)) {
        mark(in.a);
        mark(in.b);
        mark(in.c);
      }
    }
  }

  // Whether the code for `in` is generated here (otherwise cdr_rt_inst computes it).
  static bool Inline(const ir::Inst& in, const std::vector<ir::Inst>& insts) {
    auto kind_of = [&](ir::InstId x) { return insts[static_cast<size_t>(x)].kind; };
    switch (in.op) {
      case Op::Add:
      case Op::Sub:
        return !(in.kind == Kind::Time || kind_of(in.a) == Kind::Time);
      case Op::Lt:
      case Op::Le:
      case Op::Gt:
      case Op::Ge:
      case Op::Equiv:
        return kind_of(in.a) != Kind::Text;
      case Op::Const:
      case Op::Unknown:
      case Op::Neg:
      case Op::Eq:
      case Op::Ne:
      case Op::And:
      case Op::Or:
      case Op::Implies:
      case Op::Xor:
      case Op::Not:
      case Op::IsNull:
      case Op::IsTrue:
      case Op::IsFalse:
      case Op::Coalesce:
      case Op::Select:
      case Op::IntToDec:
      case Op::Abs:
      case Op::Bands:
      case Op::Agg:
        return true;  // aggregates have no operands
      default:
        return false;
    }
  }

  V Load(int32_t i) {
    if (ssa_[static_cast<size_t>(i)].v) return ssa_[static_cast<size_t>(i)];
    llvm::Value* p = Reg(i);
    llvm::Value* v = b_.CreateLoad(i64_, b_.CreateStructGEP(value_, p, 0));
    llvm::Value* k =
        b_.CreateICmpNE(b_.CreateLoad(i8_, b_.CreateStructGEP(value_, p, 1)), llvm::ConstantInt::get(i8_, 0));
    return {v, k};
  }
  // Stores a result; an unknown result holds 0, as the interpreter's.
  // Only observed registers are written to memory; the rest stay as SSA values.
  void Store(int32_t i, V r) {
    llvm::Value* v = b_.CreateSelect(r.known, r.v, C(0));
    ssa_[static_cast<size_t>(i)] = V{v, r.known};
    if (!observed_[static_cast<size_t>(i)]) return;
    llvm::Value* p = Reg(i);
    b_.CreateStore(v, b_.CreateStructGEP(value_, p, 0));
    b_.CreateStore(b_.CreateZExt(r.known, i8_), b_.CreateStructGEP(value_, p, 1));
  }
  llvm::Constant* C(int64_t x) { return llvm::ConstantInt::get(i64_, static_cast<uint64_t>(x), true); }
  llvm::Value* True() { return llvm::ConstantInt::getTrue(ctx_); }
  llvm::Value* Bool64(llvm::Value* b) { return b_.CreateZExt(b, i64_); }
  llvm::Value* IsSet(llvm::Value* v) { return b_.CreateICmpNE(v, C(0)); }
  llvm::Value* InInt32(llvm::Value* x) {
    return b_.CreateAnd(b_.CreateICmpSGE(x, C(stdlib::kMinInteger)), b_.CreateICmpSLE(x, C(stdlib::kMaxInteger)));
  }
  void Runtime(int32_t i) {
    b_.CreateCall(rt_inst_, {ctx_arg_, llvm::ConstantInt::get(i32_, static_cast<uint64_t>(block_)),
                             llvm::ConstantInt::get(i32_, static_cast<uint64_t>(i)), now_, regs_, Reg(i)});
  }
  // {result, overflowed} of an llvm.*.with.overflow intrinsic.
  std::pair<llvm::Value*, llvm::Value*> WithOverflow(llvm::Intrinsic::ID id, llvm::Value* a, llvm::Value* b) {
    llvm::Function* f = llvm::Intrinsic::getDeclaration(&m_, id, {i64_});
    llvm::Value* r = b_.CreateCall(f, {a, b});
    return {b_.CreateExtractValue(r, 0), b_.CreateExtractValue(r, 1)};
  }

  void One(const std::vector<ir::Inst>& insts, int32_t i) {
    const ir::Inst& in = insts[static_cast<size_t>(i)];
    // One decision of what the runtime computes, shared with Observed().
    if (!Inline(in, insts)) return Runtime(i);
    switch (in.op) {
      case Op::Const:
        if (in.kind == Kind::Text) {
          llvm::Value* p = b_.CreateConstInBoundsGEP1_64(i64_, texts_, static_cast<uint64_t>(in.imm));
          return Store(i, {b_.CreateLoad(i64_, p), True()});
        }
        return Store(i, {C(in.imm), True()});
      case Op::Unknown:
        return Store(i, {C(0), llvm::ConstantInt::getFalse(ctx_)});
      case Op::Neg: {
        V a = Load(in.a);
        llvm::Value* r = b_.CreateSub(C(0), a.v);
        llvm::Value* ok = in.kind == Kind::Int ? InInt32(r) : b_.CreateICmpNE(a.v, C(INT64_MIN));
        return Store(i, {r, b_.CreateAnd(a.known, ok)});
      }
      case Op::Add:
      case Op::Sub: {
        V a = Load(in.a), b = Load(in.b);
        bool add = in.op == Op::Add;
        if (in.kind == Kind::Int) {  // 32-bit operands: exact in 64 bits
          llvm::Value* r = add ? b_.CreateAdd(a.v, b.v) : b_.CreateSub(a.v, b.v);
          return Store(i, {r, b_.CreateAnd(b_.CreateAnd(a.known, b.known), InInt32(r))});
        }
        auto [r, ovf] =
            WithOverflow(add ? llvm::Intrinsic::sadd_with_overflow : llvm::Intrinsic::ssub_with_overflow, a.v, b.v);
        return Store(i, {r, b_.CreateAnd(b_.CreateAnd(a.known, b.known), b_.CreateNot(ovf))});
      }
      case Op::Lt:
      case Op::Le:
      case Op::Gt:
      case Op::Ge: {
        V a = Load(in.a), b = Load(in.b);
        llvm::Value* c = in.op == Op::Lt   ? b_.CreateICmpSLT(a.v, b.v)
                         : in.op == Op::Le ? b_.CreateICmpSLE(a.v, b.v)
                         : in.op == Op::Gt ? b_.CreateICmpSGT(a.v, b.v)
                                           : b_.CreateICmpSGE(a.v, b.v);
        return Store(i, {Bool64(c), b_.CreateAnd(a.known, b.known)});
      }
      case Op::Eq:
      case Op::Ne: {
        V a = Load(in.a), b = Load(in.b);
        llvm::Value* c = in.op == Op::Eq ? b_.CreateICmpEQ(a.v, b.v) : b_.CreateICmpNE(a.v, b.v);
        return Store(i, {Bool64(c), b_.CreateAnd(a.known, b.known)});
      }
      case Op::Equiv: {
        V a = Load(in.a), b = Load(in.b);
        llvm::Value* both = b_.CreateAnd(a.known, b.known);
        llvm::Value* c = b_.CreateSelect(both, b_.CreateICmpEQ(a.v, b.v), b_.CreateICmpEQ(a.known, b.known));
        return Store(i, {Bool64(c), True()});
      }
      case Op::And:
      case Op::Or:
      case Op::Implies: {
        V a = Load(in.a), b = Load(in.b);
        llvm::Value* at = b_.CreateAnd(a.known, IsSet(a.v));
        llvm::Value* af = b_.CreateAnd(a.known, b_.CreateNot(IsSet(a.v)));
        llvm::Value* bt = b_.CreateAnd(b.known, IsSet(b.v));
        llvm::Value* bf = b_.CreateAnd(b.known, b_.CreateNot(IsSet(b.v)));
        llvm::Value* both = b_.CreateAnd(a.known, b.known);
        // The value that decides alone (false for and, true for or and implies).
        llvm::Value* decided = in.op == Op::And  ? b_.CreateOr(af, bf)
                               : in.op == Op::Or ? b_.CreateOr(at, bt)
                                                 : b_.CreateOr(af, bt);
        llvm::Value* known = b_.CreateOr(decided, both);
        llvm::Value* v = in.op == Op::And ? b_.CreateNot(decided) : decided;
        return Store(i, {Bool64(v), known});
      }
      case Op::Xor: {
        V a = Load(in.a), b = Load(in.b);
        return Store(i, {Bool64(b_.CreateXor(IsSet(a.v), IsSet(b.v))), b_.CreateAnd(a.known, b.known)});
      }
      case Op::Not: {
        V a = Load(in.a);
        return Store(i, {Bool64(b_.CreateNot(IsSet(a.v))), a.known});
      }
      case Op::IsNull:
        return Store(i, {Bool64(b_.CreateNot(Load(in.a).known)), True()});
      case Op::IsTrue: {
        V a = Load(in.a);
        return Store(i, {Bool64(b_.CreateAnd(a.known, IsSet(a.v))), True()});
      }
      case Op::IsFalse: {
        V a = Load(in.a);
        return Store(i, {Bool64(b_.CreateAnd(a.known, b_.CreateNot(IsSet(a.v)))), True()});
      }
      case Op::Coalesce: {
        V a = Load(in.a), b = Load(in.b);
        return Store(i, {b_.CreateSelect(a.known, a.v, b.v), b_.CreateOr(a.known, b.known)});
      }
      case Op::Select: {
        V a = Load(in.a), b = Load(in.b), c = Load(in.c);
        llvm::Value* cond = b_.CreateAnd(a.known, IsSet(a.v));
        return Store(i, {b_.CreateSelect(cond, b.v, c.v), b_.CreateSelect(cond, b.known, c.known)});
      }
      case Op::IntToDec: {
        V a = Load(in.a);
        auto [r, ovf] = WithOverflow(llvm::Intrinsic::smul_with_overflow, a.v, C(stdlib::Decimal::kOne));
        return Store(i, {r, b_.CreateAnd(a.known, b_.CreateNot(ovf))});
      }
      case Op::Abs: {
        V a = Load(in.a);
        llvm::Value* neg = b_.CreateICmpSLT(a.v, C(0));
        llvm::Value* r = b_.CreateSelect(neg, b_.CreateSub(C(0), a.v), a.v);
        llvm::Value* ok = in.kind == Kind::Int ? InInt32(r) : b_.CreateICmpNE(a.v, C(INT64_MIN));
        return Store(i, {r, b_.CreateAnd(a.known, ok)});
      }
      case Op::Bands:
        return Bands(in, i);
      case Op::Agg:
        return Aggregate(in, i);
      case Op::Mul:
      case Op::Div:
      case Op::IntDiv:
      case Op::Mod:
      case Op::Power:
      case Op::Convert:
      case Op::Round:
      case Op::Floor:
      case Op::Ceiling:
      case Op::Truncate:
      case Op::Ln:
      case Op::Exp:
      case Op::Log:
      case Op::Latest:
      case Op::Absence:
      case Op::Sequence:
      case Op::Sustained:
        return Runtime(i);  // Inline() is false for these: handled above
    }
    Runtime(i);  // not reached: the switch covers every operation (-Wswitch)
  }

  // Aggregates. `last` and `exists` at a point at or after the slot's newest event (the
  // engine's common call) look at that event alone, inline. Everything else, and those at
  // an older point (a re-evaluation), calls cdr_rt_agg: the interpreter's code, O(log n)
  // with the list's window index, with no evaluator made. While evidence is collected (a
  // second pass for an alert), cdr_rt_inst computes them and records the events used.
  void Aggregate(const ir::Inst& in, int32_t i) {
    using A = ir::AggKind;
    auto kind = static_cast<A>(in.imm2);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx_, "agg_done", fn_);
    std::vector<std::pair<V, llvm::BasicBlock*>> results;
    // A value the runtime wrote to the register's memory (Load reads it from there: the
    // register has no SSA value before this instruction's Store).
    auto from_memory = [&]() {
      V v = Load(i);
      results.emplace_back(v, b_.GetInsertBlock());
      b_.CreateBr(done);
    };
    llvm::BasicBlock* runtime_bb = llvm::BasicBlock::Create(ctx_, "agg_evidence", fn_);
    llvm::BasicBlock* plain_bb = llvm::BasicBlock::Create(ctx_, "agg", fn_);
    llvm::Value* evidence = b_.CreateICmpNE(
        b_.CreateAnd(flags_, llvm::ConstantInt::get(i32_, runtime::kNativeEvidence)), llvm::ConstantInt::get(i32_, 0));
    b_.CreateCondBr(evidence, runtime_bb, plain_bb);
    b_.SetInsertPoint(runtime_bb);
    Runtime(i);
    from_memory();

    llvm::BasicBlock* call_bb = llvm::BasicBlock::Create(ctx_, "agg_call", fn_);
    b_.SetInsertPoint(plain_bb);
    if (kind == A::Last || kind == A::Exists) {
      // The slot's list (NativeEnv::slot_list), whose span is at the start of the EventList.
      llvm::Value* list_index = b_.CreateSExt(
          b_.CreateLoad(i32_, b_.CreateConstInBoundsGEP1_64(i32_, slot_list_, static_cast<uint64_t>(in.aux))), i64_);
      llvm::Value* span = b_.CreateInBoundsGEP(list_ty_, lists_, list_index);
      llvm::Value* data = b_.CreateLoad(ptr_, b_.CreateStructGEP(span_ty_, span, 0));
      llvm::Value* size = b_.CreateLoad(i64_, b_.CreateStructGEP(span_ty_, span, 1));
      llvm::BasicBlock* empty_bb = llvm::BasicBlock::Create(ctx_, "agg_empty", fn_);
      llvm::BasicBlock* newest_bb = llvm::BasicBlock::Create(ctx_, "agg_newest", fn_);
      b_.CreateCondBr(b_.CreateICmpSGT(size, C(0)), newest_bb, empty_bb);
      b_.SetInsertPoint(empty_bb);
      results.emplace_back(kind == A::Exists ? V{C(0), True()} : V{C(0), llvm::ConstantInt::getFalse(ctx_)}, empty_bb);
      b_.CreateBr(done);

      b_.SetInsertPoint(newest_bb);
      llvm::Value* e = b_.CreateInBoundsGEP(event_ty_, data, {b_.CreateSub(size, C(1))});
      llvm::Value* t = b_.CreateLoad(i64_, e);
      llvm::Value* v = b_.CreateLoad(i64_, b_.CreateConstInBoundsGEP1_64(i8_, e, offsetof(runtime::StoredEvent, value)));
      llvm::Value* hv = b_.CreateICmpNE(
          b_.CreateLoad(i8_, b_.CreateConstInBoundsGEP1_64(i8_, e, offsetof(runtime::StoredEvent, has_value))),
          llvm::ConstantInt::get(i8_, 0));
      llvm::Value* window = in.imm < 0 ? retention_ : C(in.imm);
      llvm::Value* in_window = b_.CreateICmpSGT(t, b_.CreateSub(now_, window));
      // At or after the newest event, with a value (for last): that event decides.
      llvm::Value* decides = b_.CreateICmpSLE(t, now_);
      if (kind == A::Last) decides = b_.CreateAnd(decides, hv);
      llvm::BasicBlock* inline_bb = llvm::BasicBlock::Create(ctx_, "agg_inline", fn_);
      b_.CreateCondBr(decides, inline_bb, call_bb);
      b_.SetInsertPoint(inline_bb);
      V r = kind == A::Exists ? V{Bool64(in_window), True()} : V{b_.CreateSelect(in_window, v, C(0)), in_window};
      results.emplace_back(r, inline_bb);
      b_.CreateBr(done);
    } else {
      b_.CreateBr(call_bb);
    }
    b_.SetInsertPoint(call_bb);
    b_.CreateCall(rt_agg_, {ctx_arg_, llvm::ConstantInt::get(i32_, static_cast<uint64_t>(block_)),
                            llvm::ConstantInt::get(i32_, static_cast<uint64_t>(i)), now_, Reg(i)});
    from_memory();

    b_.SetInsertPoint(done);
    llvm::PHINode* v_phi = b_.CreatePHI(i64_, static_cast<unsigned>(results.size()));
    llvm::PHINode* k_phi = b_.CreatePHI(i1_, static_cast<unsigned>(results.size()));
    for (const auto& [r, bb] : results) {
      v_phi->addIncoming(r.v, bb);
      k_phi->addIncoming(r.known, bb);
    }
    Store(i, {v_phi, k_phi});
  }

  // The first row that holds gives its value register; none: unknown. Rows are closed
  // intervals of raw values (or an `else`); an unknown subject gives unknown.
  void Bands(const ir::Inst& in, int32_t i) {
    const ir::BandTable& t = rule_.bands[static_cast<size_t>(in.aux)];
    V s = Load(in.a);
    llvm::Value* v = C(0);
    llvm::Value* known = llvm::ConstantInt::getFalse(ctx_);
    for (size_t k = t.rows.size(); k-- > 0;) {
      const ir::BandRow& r = t.rows[k];
      V val = Load(r.value);
      llvm::Value* hit = Hit(r, s.v);
      v = b_.CreateSelect(hit, val.v, v);
      known = b_.CreateSelect(hit, val.known, known);
    }
    Store(i, {v, b_.CreateAnd(s.known, known)});
    // Coverage (cdr test): only when asked for and the subject is known. The matching
    // row is found there, off the path of ordinary evaluations.
    llvm::Value* want = b_.CreateAnd(
        b_.CreateICmpNE(b_.CreateAnd(flags_, llvm::ConstantInt::get(i32_, runtime::kNativeCoverage)),
                        llvm::ConstantInt::get(i32_, 0)),
        s.known);
    llvm::BasicBlock* cover = llvm::BasicBlock::Create(ctx_, "cover", fn_);
    llvm::BasicBlock* next = llvm::BasicBlock::Create(ctx_, "next", fn_);
    b_.CreateCondBr(want, cover, next);
    b_.SetInsertPoint(cover);
    llvm::Value* row = llvm::ConstantInt::get(i32_, static_cast<uint64_t>(-1), true);
    for (size_t k = t.rows.size(); k-- > 0;) {
      row = b_.CreateSelect(Hit(t.rows[k], s.v), llvm::ConstantInt::get(i32_, k), row);
    }
    b_.CreateCall(rt_cover_, {ctx_arg_, llvm::ConstantInt::get(i32_, static_cast<uint64_t>(in.aux)), row});
    b_.CreateBr(next);
    b_.SetInsertPoint(next);
  }

  // Whether band row `r` holds for the raw value `x`.
  llvm::Value* Hit(const ir::BandRow& r, llvm::Value* x) {
    if (r.is_else) return True();
    return b_.CreateAnd(b_.CreateICmpSGE(x, C(r.low)), b_.CreateICmpSLE(x, C(r.high)));
  }

  llvm::LLVMContext& ctx_;
  llvm::Module& m_;
  const ir::Rule& rule_;
  int block_;
  llvm::IRBuilder<> b_;
  llvm::Type *i1_, *i8_, *i32_, *i64_, *ptr_;
  llvm::StructType* value_;
  llvm::Function* fn_;
  llvm::FunctionCallee rt_inst_, rt_cover_, rt_agg_;
  llvm::Value *ctx_arg_ = nullptr, *now_ = nullptr, *regs_ = nullptr, *env_ = nullptr, *flags_ = nullptr;
  llvm::Value *texts_ = nullptr, *lists_ = nullptr, *slot_list_ = nullptr, *retention_ = nullptr;
  llvm::StructType *env_ty_ = nullptr, *span_ty_ = nullptr;
  llvm::Type* event_ty_ = nullptr;
  llvm::Type* list_ty_ = nullptr;
  std::vector<bool> observed_;  // per instruction: written to memory
  std::vector<V> ssa_;          // per instruction: its value, once generated inline
};

void Optimize(llvm::Module& m, int opt) {
  if (opt == 0) return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb;
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(m, mam);
}

// One LLJIT per optimisation level, created on first use, with the runtime's symbols.
class Engine {
 public:
  static Engine& Get() {
    static Engine* e = new Engine();  // lives until exit: code handed out stays valid
    return *e;
  }

  std::optional<std::string> Compile(const ir::Rule& rule, int opt, std::vector<runtime::NativeBlock>& out,
                                     bool& cached, bool use_cache) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string key = CacheKey(rule, opt);
    if (!use_cache) key += "_" + std::to_string(++uncached_);  // a fresh name for fresh code
    if (auto it = cache_.find(key); use_cache && it != cache_.end()) {
      out = it->second;
      cached = true;
      return std::nullopt;
    }
    cached = false;
    llvm::orc::LLJIT* jit = Jit(opt);
    if (!jit) return init_error_;
    auto ctx = std::make_unique<llvm::LLVMContext>();
    auto m = std::make_unique<llvm::Module>("cdr_" + key, *ctx);
    m->setDataLayout(jit->getDataLayout());
    std::vector<std::string> names;
    for (size_t b = 0; b < rule.blocks.size(); ++b) {
      names.push_back("cdr_" + key + "_b" + std::to_string(b));
      BlockEmitter(*ctx, *m, rule, static_cast<int>(b), names.back()).Emit(/*specialize=*/opt != 0);
    }
    std::string problems;
    llvm::raw_string_ostream os(problems);
    if (llvm::verifyModule(*m, &os)) return "rule `" + rule.id + "`: the JIT made invalid LLVM IR: " + os.str();
    Optimize(*m, opt);
    if (std::getenv("CDR_JIT_DUMP")) m->print(llvm::errs(), nullptr);  // debugging: the LLVM IR made
    if (auto err = jit->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)))) {
      return "rule `" + rule.id + "`: " + llvm::toString(std::move(err));
    }
    out.clear();
    for (const auto& name : names) {
      auto sym = jit->lookup(name);
      if (!sym) return "rule `" + rule.id + "`: " + llvm::toString(sym.takeError());
      out.push_back(sym->toPtr<runtime::NativeBlock>());
    }
    if (use_cache) cache_.emplace(key, out);
    return std::nullopt;
  }

 private:
  llvm::orc::LLJIT* Jit(int opt) {
    auto& slot = jits_[opt];
    if (slot) return slot.get();
    static bool initialized = [] {
      llvm::InitializeNativeTarget();
      llvm::InitializeNativeTargetAsmPrinter();
      return true;
    }();
    (void)initialized;
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) {
      init_error_ = "the JIT cannot target this machine: " + llvm::toString(jtmb.takeError());
      return nullptr;
    }
    jtmb->setCodeGenOptLevel(opt == 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Default);
    auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
    if (!jit) {
      init_error_ = "the JIT cannot start: " + llvm::toString(jit.takeError());
      return nullptr;
    }
    llvm::orc::SymbolMap symbols;
    auto flags = llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable;
    symbols[(*jit)->mangleAndIntern("cdr_rt_inst")] = {llvm::orc::ExecutorAddr::fromPtr(&cdr_rt_inst), flags};
    symbols[(*jit)->mangleAndIntern("cdr_rt_cover")] = {llvm::orc::ExecutorAddr::fromPtr(&cdr_rt_cover), flags};
    symbols[(*jit)->mangleAndIntern("cdr_rt_agg")] = {llvm::orc::ExecutorAddr::fromPtr(&cdr_rt_agg), flags};
    if (auto err = (*jit)->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(symbols)))) {
      init_error_ = "the JIT cannot define the runtime's symbols: " + llvm::toString(std::move(err));
      return nullptr;
    }
    slot = std::move(*jit);
    return slot.get();
  }

  std::mutex mu_;
  std::map<int, std::unique_ptr<llvm::orc::LLJIT>> jits_;
  std::map<std::string, std::vector<runtime::NativeBlock>> cache_;
  std::string init_error_ = "the JIT did not start";
  uint64_t uncached_ = 0;
};

}  // namespace

std::optional<std::string> Compile(const ir::Rule& rule, int opt, std::vector<runtime::NativeBlock>& out,
                                   CompileStats* stats, bool use_cache) {
  auto start = std::chrono::steady_clock::now();
  bool cached = false;
  auto err = Engine::Get().Compile(rule, opt == 0 ? 0 : 2, out, cached, use_cache);
  if (stats) {
    ++stats->rules;
    stats->cached += cached;
    stats->millis += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return err;
}

std::optional<std::string> CompileModule(const ir::Module& module, int opt,
                                         std::vector<std::vector<runtime::NativeBlock>>& out, CompileStats* stats,
                                         bool use_cache) {
  out.assign(module.rules.size(), {});
  for (size_t r = 0; r < module.rules.size(); ++r) {
    if (auto err = Compile(module.rules[r], opt, out[r], stats, use_cache)) {
      out.clear();
      return err;
    }
  }
  return std::nullopt;
}

}  // namespace cdr::jit
