//! GPU kernel benchmarks: every kernel family at MSRResNet / SRGAN sizes and the engine's
//! MSRResNet forward + backward, with achieved TFLOP/s or GB/s next to the device's measured peak.
//!
//! `cargo bench --bench gpu` times each case over several runs after a warm-up. Under
//! `cargo test --all-targets` (no `--bench` argument) every case runs once, as a smoke test. Without
//! a usable GPU it says so and exits 0.
//!
//! Peaks are measured once, with our own kernels: bandwidth as a 256 MiB device-to-device copy
//! (`copy_f32`, read + write counted), and compute as a large square matrix product (`linear_fwd`)
//! in each GEMM math mode. GEMM-shaped kernels are reported against the peak of their own math
//! mode, memory-bound kernels against the copy bandwidth. Bytes are the minimum traffic each kernel
//! must move (every input read once, every output written once; re-reads such as batchnorm's two
//! statistics passes are counted); FLOPs of a convolution are 2 * M * N * K of its GEMM.
//!
//! Timing: stream synchronisation around a batch of launches, measured with `Instant`.

mod common;

use ddr_engine::device::cuda::{self as cuda, ConvMath, CudaBuf, CudaDevice};
use ddr_engine::device::{AdamStep, Conv2dGeom};
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::{ops, Device, Rng, Tensor};
use std::sync::Arc;
use std::time::Instant;

struct Peaks {
    gbps: f64,
    tflops: [f64; 3],
}

/// Runs `f` once to warm up (module load, pool), then `reps` times; milliseconds per run.
fn time(dev: &CudaDevice, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    dev.synchronize().unwrap();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    dev.synchronize().unwrap();
    t.elapsed().as_secs_f64() * 1e3 / reps as f64
}

fn random(dev: &CudaDevice, rng: &mut Rng, n: usize, scale: f32) -> CudaBuf {
    let v: Vec<f32> = (0..n).map(|_| (rng.uniform_f32() * 2.0 - 1.0) * scale).collect();
    dev.upload(&v).unwrap()
}

/// One result line; `amount` is FLOPs (unit "TFLOP/s") or bytes (unit "GB/s").
fn row(name: &str, ms: f64, amount: f64, unit: &str, peak: f64) {
    let rate = amount / (ms * 1e-3) / if unit == "GB/s" { 1e9 } else { 1e12 };
    println!("{name:<52} {ms:>9.3} ms {rate:>9.2} {unit:<7} {:>5.1}% of peak", 100.0 * rate / peak);
}

fn conv_geom(
    n: usize,
    c_in: usize,
    hw: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Conv2dGeom {
    Conv2dGeom { n, c_in, h: hw, w: hw, c_out, kh: k, kw: k, stride, pad }
}

/// 2 * M * N * K of one pass of the convolution's GEMM (the same for all three passes).
fn conv_flops(g: &Conv2dGeom) -> f64 {
    2.0 * (g.c_out * g.ckk() * g.n * g.ho() * g.wo()) as f64
}

fn measure_peaks(dev: &CudaDevice, rng: &mut Rng, reps: usize, big: usize) -> Peaks {
    let n = 64 << 20;
    let x = random(dev, rng, n, 1.0);
    let mut y = dev.alloc(n).unwrap();
    let ms =
        time(dev, reps, || cuda::elementwise::copy_f32(dev, &x.dev_view(), &mut y.dev_view_mut()).unwrap());
    let gbps = 8.0 * n as f64 / (ms * 1e-3) / 1e9;
    println!("peak bandwidth: copy_f32 of {} MiB: {ms:.3} ms, {gbps:.0} GB/s (read + write)", (n * 4) >> 20);
    let a = random(dev, rng, big * big, 1.0);
    let b = random(dev, rng, big * big, 1.0);
    let mut c = dev.alloc(big * big).unwrap();
    let mut tflops = [0.0; 3];
    for math in ConvMath::ALL {
        dev.set_conv_math(math);
        let ms = time(dev, reps, || {
            cuda::linear::linear_fwd_f32(
                dev,
                big,
                big,
                big,
                &a.dev_view(),
                &b.dev_view(),
                None,
                &mut c.dev_view_mut(),
            )
            .unwrap()
        });
        tflops[math as usize] = 2.0 * (big as f64).powi(3) / (ms * 1e-3) / 1e12;
        println!("peak GEMM {math}: {big}^3 linear_fwd: {ms:.3} ms, {:.1} TFLOP/s", tflops[math as usize]);
    }
    dev.set_conv_math(ConvMath::F32);
    Peaks { gbps, tflops }
}

/// The three conv passes of one layer shape, in every math mode.
fn bench_conv(dev: &CudaDevice, rng: &mut Rng, reps: usize, peaks: &Peaks, name: &str, g: Conv2dGeom) {
    let x = random(dev, rng, g.n * g.in_len(), 1.0);
    let w = random(dev, rng, g.weight_len(), 0.05);
    let b = random(dev, rng, g.c_out, 0.05);
    let dy = random(dev, rng, g.n * g.out_len(), 1.0);
    let mut y = dev.alloc(g.n * g.out_len()).unwrap();
    let mut dx = dev.alloc(g.n * g.in_len()).unwrap();
    let mut dw = dev.alloc_zeros(g.weight_len()).unwrap();
    let mut db = dev.alloc_zeros(g.c_out).unwrap();
    let flops = conv_flops(&g);
    for math in ConvMath::ALL {
        dev.set_conv_math(math);
        let peak = peaks.tflops[math as usize];
        let ms = time(dev, reps, || {
            cuda::conv2d::conv2d_fwd_f32(
                dev,
                &g,
                &x.dev_view(),
                &w.dev_view(),
                Some(&b.dev_view()),
                &mut y.dev_view_mut(),
            )
            .unwrap()
        });
        row(&format!("{name} fwd {math}"), ms, flops, "TFLOP/s", peak);
        let ms = time(dev, reps, || {
            cuda::conv2d::conv2d_bwd_input_f32(dev, &g, &dy.dev_view(), &w.dev_view(), &mut dx.dev_view_mut())
                .unwrap()
        });
        row(&format!("{name} bwd input {math}"), ms, flops, "TFLOP/s", peak);
        let ms = time(dev, reps, || {
            cuda::conv2d::conv2d_bwd_weight_f32(
                dev,
                &g,
                &x.dev_view(),
                &dy.dev_view(),
                &mut dw.dev_view_mut(),
                Some(&mut db.dev_view_mut()),
            )
            .unwrap()
        });
        row(&format!("{name} bwd weight+bias {math}"), ms, flops, "TFLOP/s", peak);
    }
    dev.set_conv_math(ConvMath::F32);
}

/// Memory-bound kernels at MSRResNet / SRGAN sizes (batch 16, nf 64, LR 32x32, HR 128x128).
fn bench_memory_bound(dev: &CudaDevice, rng: &mut Rng, reps: usize, peaks: &Peaks) {
    let gb = |floats: usize| 4.0 * floats as f64;
    let p = peaks.gbps;
    // Pixel shuffle of the x2 upsampling conv's output: [16, 256, 32, 32] -> [16, 64, 64, 64].
    let len = 16 * 256 * 32 * 32;
    let (x, mut y) = (random(dev, rng, len, 1.0), dev.alloc(len).unwrap());
    let ms = time(dev, reps, || {
        cuda::pixel_shuffle::pixel_shuffle_fwd_f32(dev, 64, 32, 32, 2, &x.dev_view(), &mut y.dev_view_mut())
            .unwrap()
    });
    row("pixel_shuffle fwd [16,256,32,32] r2", ms, gb(2 * len), "GB/s", p);
    let ms = time(dev, reps, || {
        cuda::pixel_shuffle::pixel_shuffle_bwd_f32(dev, 64, 32, 32, 2, &x.dev_view(), &mut y.dev_view_mut())
            .unwrap()
    });
    row("pixel_shuffle bwd [16,256,32,32] r2", ms, gb(2 * len), "GB/s", p);

    // Bilinear x4 of the LR input (MSRResNet's global residual): [16, 3, 32, 32] -> 128x128.
    let (lin, lout) = (16 * 3 * 32 * 32, 16 * 3 * 128 * 128);
    let (xi, dyo) = (random(dev, rng, lin, 1.0), random(dev, rng, lout, 1.0));
    let (mut yo, mut dxi) = (dev.alloc(lout).unwrap(), dev.alloc(lin).unwrap());
    let ms = time(dev, reps, || {
        cuda::upsample::upsample_bilinear_fwd_f32(dev, 32, 32, 4, &xi.dev_view(), &mut yo.dev_view_mut())
            .unwrap()
    });
    row("upsample_bilinear fwd [16,3,32,32] x4", ms, gb(lin + lout), "GB/s", p);
    let ms = time(dev, reps, || {
        cuda::upsample::upsample_bilinear_bwd_f32(dev, 32, 32, 4, &dyo.dev_view(), &mut dxi.dev_view_mut())
            .unwrap()
    });
    row("upsample_bilinear bwd [16,3,32,32] x4", ms, gb(lin + lout), "GB/s", p);

    // HR activations [16, 64, 128, 128]: activations, pooling, batchnorm.
    let len = 16 * 64 * 128 * 128;
    let (a, b) = (random(dev, rng, len, 1.0), random(dev, rng, len, 1.0));
    let mut out = dev.alloc(len).unwrap();
    let ms = time(dev, reps, || {
        cuda::elementwise::leaky_relu_fwd_f32(dev, &a.dev_view(), 0.1, &mut out.dev_view_mut()).unwrap()
    });
    row("leaky_relu fwd [16,64,128,128]", ms, gb(2 * len), "GB/s", p);
    let ms = time(dev, reps, || {
        cuda::elementwise::leaky_relu_bwd_f32(dev, &a.dev_view(), &b.dev_view(), 0.1, &mut out.dev_view_mut())
            .unwrap()
    });
    row("leaky_relu bwd [16,64,128,128]", ms, gb(3 * len), "GB/s", p);
    let ms = time(dev, reps, || {
        cuda::elementwise::add_f32(dev, &a.dev_view(), &b.dev_view(), &mut out.dev_view_mut()).unwrap()
    });
    row("add [16,64,128,128]", ms, gb(3 * len), "GB/s", p);
    let mut pooled = dev.alloc(len / 4).unwrap();
    let ms = time(dev, reps, || {
        cuda::pool2d::maxpool2_fwd_f32(dev, 128, 128, &a.dev_view(), &mut pooled.dev_view_mut()).unwrap()
    });
    row("maxpool2 fwd [16,64,128,128]", ms, gb(len + len / 4), "GB/s", p);
    let dq = random(dev, rng, len / 4, 1.0);
    let ms = time(dev, reps, || {
        cuda::pool2d::maxpool2_bwd_f32(dev, 128, 128, &a.dev_view(), &dq.dev_view(), &mut out.dev_view_mut())
            .unwrap()
    });
    row("maxpool2 bwd [16,64,128,128]", ms, gb(2 * len + len / 4), "GB/s", p);

    let (c, hw) = (64, 128 * 128);
    let gamma = random(dev, rng, c, 1.0);
    let beta = random(dev, rng, c, 1.0);
    let (mut rm, mut rv) = (dev.alloc_zeros(c).unwrap(), dev.upload(&vec![1.0; c]).unwrap());
    let mut stats = dev.alloc(2 * c).unwrap();
    let ms = time(dev, reps, || {
        cuda::batchnorm::batchnorm_train_fwd_f32(
            dev,
            16,
            c,
            hw,
            &a.dev_view(),
            &gamma.dev_view(),
            &beta.dev_view(),
            1e-5,
            0.1,
            &mut rm.dev_view_mut(),
            &mut rv.dev_view_mut(),
            &mut out.dev_view_mut(),
            &mut stats.dev_view_mut(),
        )
        .unwrap()
    });
    row("batchnorm train fwd [16,64,128,128]", ms, gb(4 * len), "GB/s", p);
    let (mut dg, mut dbeta) = (dev.alloc_zeros(c).unwrap(), dev.alloc_zeros(c).unwrap());
    let ms = time(dev, reps, || {
        cuda::batchnorm::batchnorm_train_bwd_f32(
            dev,
            16,
            c,
            hw,
            &a.dev_view(),
            &b.dev_view(),
            &gamma.dev_view(),
            &stats.dev_view(),
            &mut out.dev_view_mut(),
            Some(&mut dg.dev_view_mut()),
            Some(&mut dbeta.dev_view_mut()),
        )
        .unwrap()
    });
    row("batchnorm train bwd [16,64,128,128]", ms, gb(7 * len), "GB/s", p);
    let ms = time(dev, reps, || {
        cuda::batchnorm::batchnorm_eval_fwd_f32(
            dev,
            16,
            c,
            hw,
            &a.dev_view(),
            &gamma.dev_view(),
            &beta.dev_view(),
            1e-5,
            &rm.dev_view(),
            &rv.dev_view(),
            &mut out.dev_view_mut(),
        )
        .unwrap()
    });
    row("batchnorm eval fwd [16,64,128,128]", ms, gb(2 * len), "GB/s", p);

    // Pixel loss on the SR output [16, 3, 128, 128] (value comes back to the host each time).
    let (pred, target) = (random(dev, rng, lout, 1.0), random(dev, rng, lout, 1.0));
    let mut grad = dev.alloc(lout).unwrap();
    let ms = time(dev, reps, || {
        cuda::loss::l1_mean_f32(dev, &pred.dev_view(), &target.dev_view(), 1.0, &mut grad.dev_view_mut())
            .unwrap();
    });
    row("l1_mean [16,3,128,128] (incl. value download)", ms, gb(3 * lout), "GB/s", p);

    // Adam and EMA over MSRResNet's ~1.5 M parameters.
    let np = 1_517_571;
    let (mut prm, g) = (random(dev, rng, np, 0.1), random(dev, rng, np, 0.1));
    let (mut m, mut v) = (dev.alloc_zeros(np).unwrap(), dev.alloc_zeros(np).unwrap());
    let h = AdamStep { lr: 2e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, step: 1 };
    let ms = time(dev, reps, || {
        cuda::optim::adam_step_f32(
            dev,
            &h,
            &mut prm.dev_view_mut(),
            &g.dev_view(),
            &mut m.dev_view_mut(),
            &mut v.dev_view_mut(),
        )
        .unwrap()
    });
    row("adam_step 1.5 M params", ms, gb(7 * np), "GB/s", p);
    let mut ema = dev.alloc_zeros(np).unwrap();
    let ms =
        time(dev, reps, || cuda::optim::ema_f32(dev, 0.999, &g.dev_view(), &mut ema.dev_view_mut()).unwrap());
    row("ema 1.5 M params", ms, gb(3 * np), "GB/s", p);
}

/// MSRResNet x4 (nf 64, 16 residual blocks, global residual), the engine's own model on a
/// [16, 3, 32, 32] batch: forward, the L1 loss, then backward with every input and parameter
/// gradient, as a training step runs it (without the optimiser).
fn bench_msrresnet(dev: &Arc<CudaDevice>, rng: &mut Rng, reps: usize, peaks: &Peaks) {
    let device = Device::Cuda(dev.clone());
    let (n, nf, nb, lr) = (16, 64, 16, 32);
    let arch = Arch::Msrresnet { nf, nb, scale: 4, global_residual: true };
    let (mut net, mut p) = arch.build(&device, 0xBE7C).unwrap();
    let mut tensor = |shape: &[usize]| {
        let v: Vec<f32> = (0..shape.iter().product()).map(|_| rng.uniform_f32()).collect();
        Tensor::from_vec(v, shape, &device).unwrap()
    };
    let x = tensor(&[n, 3, lr, lr]);
    let target = tensor(&[n, 3, 4 * lr, 4 * lr]);
    // The convolutions' GEMMs: first, 2 per block, the two upsampling convs, HR conv, last.
    let mut convs = vec![conv_geom(n, 3, lr, nf, 3, 1, 1)];
    convs.extend((0..2 * nb).map(|_| conv_geom(n, nf, lr, nf, 3, 1, 1)));
    convs.push(conv_geom(n, nf, lr, 4 * nf, 3, 1, 1));
    convs.push(conv_geom(n, nf, 2 * lr, 4 * nf, 3, 1, 1));
    convs.push(conv_geom(n, nf, 4 * lr, nf, 3, 1, 1));
    convs.push(conv_geom(n, nf, 4 * lr, 3, 3, 1, 1));
    // Three GEMMs per conv: forward, input gradient, weight gradient (the first layer's input
    // gradient included, which a training step could skip but an attribution probe needs).
    let flops = 3.0 * convs.iter().map(conv_flops).sum::<f64>();
    for math in ConvMath::ALL {
        dev.set_conv_math(math);
        let ms = time(dev, reps, || {
            let y = net.forward(&mut p, &x, Pass::TRAIN).unwrap();
            let (_, dy) = ops::loss::l1_mean(&y, &target, 1.0).unwrap();
            p.zero_grads().unwrap();
            net.backward(&mut p, &dy, Want::ALL).unwrap();
        });
        row(
            &format!("MSRResNet x4 fwd+bwd, batch 16, 32->128 {math}"),
            ms,
            flops,
            "TFLOP/s",
            peaks.tflops[math as usize],
        );
    }
    dev.set_conv_math(ConvMath::F32);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let Some(dev) = common::gpu_or_skip("gpu bench") else {
        return;
    };
    // Test mode: each case once, with a smaller peak GEMM, just to prove every launch works.
    let (reps, big) = if full { (20, 8192) } else { (1, 2048) };
    println!("gpu bench on {} ({} runs per case)", dev.name(), reps);
    let mut rng = Rng::new(0xBE7C);
    let peaks = measure_peaks(&dev, &mut rng, reps.min(5), big);

    println!("\n{:<52} {:>12} {:>17} {:>12}", "kernel", "time", "rate", "");
    let lr = 32;
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "conv 3->64 3x3 [16,3,32,32]",
        conv_geom(16, 3, lr, 64, 3, 1, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "conv 64->64 3x3 [16,64,32,32]",
        conv_geom(16, 64, lr, 64, 3, 1, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "conv 64->256 3x3 [16,64,32,32]",
        conv_geom(16, 64, lr, 256, 3, 1, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "conv 64->256 3x3 [16,64,64,64]",
        conv_geom(16, 64, 2 * lr, 256, 3, 1, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "conv 64->64 3x3 [16,64,128,128]",
        conv_geom(16, 64, 4 * lr, 64, 3, 1, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "conv 64->3 3x3 [16,64,128,128]",
        conv_geom(16, 64, 4 * lr, 3, 3, 1, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "disc conv 64->64 4x4 s2 [16,64,128,128]",
        conv_geom(16, 64, 128, 64, 4, 2, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "disc conv 128->128 4x4 s2 [16,128,64,64]",
        conv_geom(16, 128, 64, 128, 4, 2, 1),
    );
    bench_conv(
        &dev,
        &mut rng,
        reps,
        &peaks,
        "disc conv 256->256 4x4 s2 [16,256,32,32]",
        conv_geom(16, 256, 32, 256, 4, 2, 1),
    );

    // The discriminator's head: linear 512*4*4 -> 100 on a batch of 16.
    let (n, i, o) = (16, 512 * 4 * 4, 100);
    let x = random(&dev, &mut rng, n * i, 1.0);
    let w = random(&dev, &mut rng, o * i, 0.01);
    let mut y = dev.alloc(n * o).unwrap();
    for math in ConvMath::ALL {
        dev.set_conv_math(math);
        let ms = time(&dev, reps, || {
            cuda::linear::linear_fwd_f32(
                &dev,
                n,
                i,
                o,
                &x.dev_view(),
                &w.dev_view(),
                None,
                &mut y.dev_view_mut(),
            )
            .unwrap()
        });
        row(
            &format!("linear 8192->100 batch 16 fwd {math}"),
            ms,
            2.0 * (n * i * o) as f64,
            "TFLOP/s",
            peaks.tflops[math as usize],
        );
    }
    dev.set_conv_math(ConvMath::F32);

    bench_memory_bound(&dev, &mut rng, reps, &peaks);
    println!();
    bench_msrresnet(&dev, &mut rng, reps.min(5), &peaks);
}
