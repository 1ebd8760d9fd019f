// The scheduler of the emulated CUDA device (see cuda_emu.h): runs one kernel launch on the calling
// OS thread, block after block, each CUDA thread of a block as a fiber.
//
// A fiber runs until it finishes or waits at a barrier. After every pass over the block's fibers
// the scheduler releases, in this order: a warp whose live lanes all wait at a warp barrier (a
// shuffle, __syncwarp); else the block, when every live thread waits at __syncthreads. Anything
// else is a deadlock (threads of one block waiting at different barriers), reported as an error
// naming the kernel. Threads that returned do not take part in later barriers, as on hardware.
//
// Fibers switch with a few instructions of assembly on x86-64 (ucontext's swapcontext makes a
// system call per switch, which made the suite several times slower) and with ucontext elsewhere.
#include <ucontext.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_emu.h"

// DDR_EMU_ASAN / DDR_EMU_TSAN: build.rs sets one when the kernels are built with that sanitizer.
// This file itself is not instrumented; it only tells the sanitizer about fibers and barriers.
#ifdef DDR_EMU_ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef DDR_EMU_TSAN
#include <sanitizer/tsan_interface.h>
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace {

#if defined(DDR_EMU_ASAN) || defined(DDR_EMU_TSAN)
constexpr size_t STACK_BYTES = 256 * 1024;
#else
constexpr size_t STACK_BYTES = 64 * 1024;
#endif
constexpr int MAX_THREADS = 1024;
constexpr int WARP = 32;
constexpr int WARP_SCRATCH_FLOATS = 16 * 16;  // one wmma accumulator tile

enum class State : uint8_t { Ready, AtBlockBarrier, AtWarpBarrier, Done };

#if defined(__x86_64__)
// Saves the callee-saved registers on the current stack, stores the stack pointer in *from and
// continues on the stack `to` (saved the same way, or prepared by make_context).
extern "C" void ddr_emu_switch(void** from, void* to);
asm(R"(
    .text
    .globl ddr_emu_switch
    .type ddr_emu_switch, @function
ddr_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ddr_emu_switch, .-ddr_emu_switch
)");

struct Context {
    void* sp = nullptr;
};
// A context that starts `start` on the stack [stack, stack + size) when first switched to.
void make_context(Context& c, char* stack, size_t size, void (*start)()) {
    uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
    void** sp = (void**)(top - 16);
    sp[0] = (void*)start;                 // ddr_emu_switch's ret enters start as if called
    sp[1] = nullptr;                      // start's (never used) return address slot
    sp -= 6;                              // rbp, rbx, r12..r15 popped before the ret
    for (int i = 0; i < 6; i++) sp[i] = nullptr;
    c.sp = sp;
}
inline void switch_context(Context& from, Context& to) { ddr_emu_switch(&from.sp, to.sp); }
#else
struct Context {
    ucontext_t uc;
};
void make_context(Context& c, char* stack, size_t size, void (*start)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, start, 0);
}
inline void switch_context(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

struct Fiber {
    Context ctx;
    State state;
    uint3 tid;
    unsigned arrived;  // the generation of the barrier it waits at
#ifdef DDR_EMU_TSAN
    void* tsan_fiber = nullptr;
#endif
};

// Stacks for up to MAX_THREADS fibers, each below a guard page, mapped once per OS thread.
struct Stacks {
    char* base = nullptr;
    size_t stride = 0;
    bool map() {
        if (base) return true;
        const size_t page = (size_t)sysconf(_SC_PAGESIZE);
        stride = STACK_BYTES + page;
        void* p = mmap(nullptr, stride * MAX_THREADS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (p == MAP_FAILED) return false;
        base = static_cast<char*>(p);
        for (int t = 0; t < MAX_THREADS; t++) mprotect(base + t * stride, page, PROT_NONE);
        return true;
    }
    char* stack(int t) const { return base + t * stride + (stride - STACK_BYTES); }
};

struct BlockRun {
    Context scheduler;
    Fiber fibers[MAX_THREADS];
    int count = 0;
    int current = -1;
    ddr_emu_entry_fn entry = nullptr;
    void** args = nullptr;
    uint64_t exchange[MAX_THREADS / WARP][WARP];
    bool exchange_set[MAX_THREADS / WARP][WARP];
    std::string error;
#ifdef DDR_EMU_ASAN
    const void* sched_stack_bottom = nullptr;
    size_t sched_stack_size = 0;
#endif
    // Barrier generations, for the happens-before edges ThreadSanitizer is told about.
    unsigned block_gen = 0;
    unsigned warp_gen[MAX_THREADS / WARP];
#ifdef DDR_EMU_TSAN
    void* sched_tsan = nullptr;
    char block_sync[2];
    char warp_sync[MAX_THREADS / WARP][2];
#endif
};

thread_local Stacks tl_stacks;
thread_local BlockRun* tl_run = nullptr;

// Happens-before edges for ThreadSanitizer, which sees every fiber as a thread of its own and
// switches between them without implying any order. A barrier orders the accesses before it in
// every participating thread before the accesses after it, and nothing else: arrivals at
// generation g release into one of two sync objects (by parity), leaving generation g acquires
// it. Each block is ordered after the blocks that ran before it on this OS thread (their
// __shared__ storage is the same memory; on a GPU, blocks of a launch run concurrently but have
// shared memory of their own, so cross-block races are out of this check's reach), and the
// threads of one block are not ordered with each other: block k's threads release into one of
// two objects by k's parity at their end and acquire the other at their start. Without
// ThreadSanitizer these are no-ops.
thread_local unsigned tl_block_serial = 0;
thread_local char tl_block_order[2];
#ifdef DDR_EMU_TSAN
inline void hb_release(void* p) { __tsan_release(p); }
inline void hb_acquire(void* p) { __tsan_acquire(p); }
#else
inline void hb_release(void*) {}
inline void hb_acquire(void*) {}
#endif

Fiber& me() { return tl_run->fibers[tl_run->current]; }

int lane_of(int t) { return t % WARP; }

// Switches from the running fiber back to the scheduler.
void yield_to_scheduler() {
    BlockRun* r = tl_run;
    Fiber& f = r->fibers[r->current];
#ifdef DDR_EMU_TSAN
    __tsan_switch_to_fiber(r->sched_tsan, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef DDR_EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, r->sched_stack_bottom, r->sched_stack_size);
#endif
    switch_context(f.ctx, r->scheduler);
#ifdef DDR_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void fiber_main() {
#ifdef DDR_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &tl_run->sched_stack_bottom, &tl_run->sched_stack_size);
#endif
    BlockRun* r = tl_run;
    hb_acquire(&tl_block_order[(tl_block_serial + 1) % 2]);
    r->entry(r->args);
    r->fibers[r->current].state = State::Done;
    hb_release(&tl_block_order[tl_block_serial % 2]);
#ifdef DDR_EMU_TSAN
    __tsan_switch_to_fiber(r->sched_tsan, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef DDR_EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, r->sched_stack_bottom, r->sched_stack_size);
#endif
    Context dead;  // this fiber is never resumed
    switch_context(dead, r->scheduler);
    __builtin_unreachable();
}

void resume(BlockRun& r, int t) {
    r.current = t;
    threadIdx = r.fibers[t].tid;
#ifdef DDR_EMU_TSAN
    __tsan_switch_to_fiber(r.fibers[t].tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef DDR_EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, tl_stacks.stack(t), STACK_BYTES);
#endif
    switch_context(r.scheduler, r.fibers[t].ctx);
#ifdef DDR_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    r.current = -1;
}

// Runs the current block to completion; false (and r.error set) on a deadlock.
bool run_block(BlockRun& r) {
    for (int t = 0; t < r.count; t++) {
        Fiber& f = r.fibers[t];
        f.state = State::Ready;
        f.tid = uint3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
#ifdef DDR_EMU_ASAN
        // A finished fiber never returned from its frames: clear their redzones before reuse.
        __asan_unpoison_memory_region(tl_stacks.stack(t), STACK_BYTES);
#endif
        make_context(f.ctx, tl_stacks.stack(t), STACK_BYTES, fiber_main);
#ifdef DDR_EMU_TSAN
        if (!f.tsan_fiber) f.tsan_fiber = __tsan_create_fiber(0);
#endif
    }
    const int warps = (r.count + WARP - 1) / WARP;
    for (;;) {
        for (int t = 0; t < r.count; t++)
            if (r.fibers[t].state == State::Ready) resume(r, t);
        bool released = false;
        for (int w = 0; w < warps; w++) {
            bool waiting = false, all = true;
            for (int t = w * WARP; t < r.count && t < (w + 1) * WARP; t++) {
                const State s = r.fibers[t].state;
                if (s == State::AtWarpBarrier) waiting = true;
                else if (s != State::Done) all = false;
            }
            if (waiting && all) {
                for (int t = w * WARP; t < r.count && t < (w + 1) * WARP; t++)
                    if (r.fibers[t].state == State::AtWarpBarrier) r.fibers[t].state = State::Ready;
                r.warp_gen[w]++;
                released = true;
            }
        }
        if (released) continue;
        int live = 0, at_block = 0, at_warp = 0;
        for (int t = 0; t < r.count; t++) {
            const State s = r.fibers[t].state;
            live += s != State::Done;
            at_block += s == State::AtBlockBarrier;
            at_warp += s == State::AtWarpBarrier;
        }
        if (live == 0) return true;
        if (at_block == live) {
            for (int t = 0; t < r.count; t++)
                if (r.fibers[t].state == State::AtBlockBarrier) r.fibers[t].state = State::Ready;
            r.block_gen++;
            continue;
        }
        char msg[256];
        snprintf(msg, sizeof msg,
                 "deadlock in block (%u, %u, %u): %d threads wait at __syncthreads while %d wait at a warp "
                 "barrier (a barrier some threads of the block or warp never reach)",
                 blockIdx.x, blockIdx.y, blockIdx.z, at_block, at_warp);
        r.error = msg;
        return false;
    }
}

void set_error(char* err, size_t len, const std::string& msg) {
    if (len == 0) return;
    snprintf(err, len, "%s", msg.c_str());
}

}  // namespace

extern "C" void ddr_emu_syncthreads() {
    BlockRun& r = *tl_run;
    Fiber& f = me();
    f.arrived = r.block_gen;
    f.state = State::AtBlockBarrier;
#ifdef DDR_EMU_TSAN
    hb_release(&r.block_sync[f.arrived % 2]);
    yield_to_scheduler();
    hb_acquire(&r.block_sync[f.arrived % 2]);
#else
    yield_to_scheduler();
#endif
}

extern "C" void ddr_emu_syncwarp() {
    BlockRun& r = *tl_run;
    Fiber& f = me();
    const int w = r.current / WARP;
    f.arrived = r.warp_gen[w];
    f.state = State::AtWarpBarrier;
#ifdef DDR_EMU_TSAN
    hb_release(&r.warp_sync[w][f.arrived % 2]);
    yield_to_scheduler();
    hb_acquire(&r.warp_sync[w][f.arrived % 2]);
#else
    yield_to_scheduler();
#endif
}

extern "C" int ddr_emu_lane() { return lane_of(tl_run->current); }

extern "C" float* ddr_emu_warp_scratch(int floats) {
    static thread_local float scratch[MAX_THREADS / WARP][WARP_SCRATCH_FLOATS];
    if (floats > WARP_SCRATCH_FLOATS) {
        std::fprintf(stderr, "ddr_emu_warp_scratch: %d floats asked, %d available\n", floats, WARP_SCRATCH_FLOATS);
        std::abort();
    }
    return scratch[tl_run->current / WARP];
}

extern "C" uint64_t ddr_emu_shfl(uint64_t v, int src, int own_if_outside) {
    BlockRun& r = *tl_run;
    const int t = r.current, warp = t / WARP, lane = lane_of(t);
    r.exchange[warp][lane] = v;
    r.exchange_set[warp][lane] = true;
    ddr_emu_syncwarp();
    uint64_t out = v;
    if (src >= 0 && src < WARP) {
        if (!r.exchange_set[warp][src] && r.error.empty()) {
            char msg[160];
            snprintf(msg, sizeof msg, "a warp shuffle in block (%u, %u, %u) reads lane %d, which did not take part",
                     blockIdx.x, blockIdx.y, blockIdx.z, src);
            r.error = msg;
        }
        out = r.exchange[warp][src];
    } else if (!own_if_outside && r.error.empty()) {
        r.error = "a warp shuffle reads a lane outside the warp";
    }
    ddr_emu_syncwarp();  // everyone has read before anyone writes the next exchange
    r.exchange_set[warp][lane] = false;
    return out;
}

// Runs kernel `k` on a grid x block launch with cuLaunchKernel-style arguments (`args[i]` points at
// argument i, `sizes[i]` is its size in bytes). Returns 0, or -1 with a message in `err`.
extern "C" int ddr_emu_launch(const ddr_emu_kernel* k, const unsigned* grid, const unsigned* block, void** args,
                              const size_t* sizes, size_t nargs, char* err, size_t errlen) {
    const std::string name = k->name;
    if ((int)nargs != k->arg_count) {
        set_error(err, errlen,
                  name + " takes " + std::to_string(k->arg_count) + " arguments, the launch passed " +
                      std::to_string(nargs));
        return -1;
    }
    for (size_t i = 0; i < nargs; i++)
        if (sizes[i] != k->arg_sizes[i]) {
            set_error(err, errlen,
                      name + ": argument " + std::to_string(i) + " is " + std::to_string(k->arg_sizes[i]) +
                          " bytes in the kernel, the launch passed " + std::to_string(sizes[i]));
            return -1;
        }
    const unsigned long long threads = (unsigned long long)block[0] * block[1] * block[2];
    if (block[0] == 0 || block[1] == 0 || block[2] == 0 || block[0] > 1024 || block[1] > 1024 || block[2] > 64 ||
        threads > MAX_THREADS) {
        set_error(err, errlen,
                  name + ": invalid block (" + std::to_string(block[0]) + ", " + std::to_string(block[1]) + ", " +
                      std::to_string(block[2]) + ") (CUDA_ERROR_INVALID_VALUE on a GPU)");
        return -1;
    }
    if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0 || grid[0] > 0x7fffffffu || grid[1] > 65535 || grid[2] > 65535) {
        set_error(err, errlen,
                  name + ": invalid grid (" + std::to_string(grid[0]) + ", " + std::to_string(grid[1]) + ", " +
                      std::to_string(grid[2]) + ") (CUDA_ERROR_INVALID_VALUE on a GPU)");
        return -1;
    }
    if (tl_run) {
        set_error(err, errlen, name + ": a kernel launched from inside a kernel");
        return -1;
    }
    if (!tl_stacks.map()) {
        set_error(err, errlen, name + ": cannot map the emulator's fiber stacks");
        return -1;
    }
    static thread_local BlockRun run;
    run.count = (int)threads;
    run.entry = k->entry;
    run.args = args;
    run.error.clear();
    std::memset(run.exchange_set, 0, sizeof run.exchange_set);
    tl_run = &run;
#ifdef DDR_EMU_TSAN
    run.sched_tsan = __tsan_get_current_fiber();
#endif
    gridDim = dim3{grid[0], grid[1], grid[2]};
    blockDim = dim3{block[0], block[1], block[2]};
    // The launching thread's writes (buffers uploaded, arguments) happen before every block.
    hb_release(&tl_block_order[0]);
    hb_release(&tl_block_order[1]);
    bool ok = true;
    for (unsigned z = 0; ok && z < grid[2]; z++)
        for (unsigned y = 0; ok && y < grid[1]; y++)
            for (unsigned x = 0; ok && x < grid[0]; x++) {
                blockIdx = uint3{x, y, z};
                tl_block_serial++;
                run.block_gen = 0;
                std::memset(run.warp_gen, 0, sizeof run.warp_gen);
                ok = run_block(run) && run.error.empty();
            }
    tl_run = nullptr;
    // And every block happens before what the launching thread does next (reads, frees).
    hb_acquire(&tl_block_order[0]);
    hb_acquire(&tl_block_order[1]);
    if (!ok) {
        set_error(err, errlen, name + ": " + run.error);
        return -1;
    }
    return 0;
}
