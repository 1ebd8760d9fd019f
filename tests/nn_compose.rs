//! Layers composed into a network, on every device the suite covers (the CPU, the emulated CUDA
//! device, a GPU when there is one): gradients of the whole flat parameter buffer and of the
//! input against finite differences, agreement with the CPU, parameter naming and order, init
//! statistics, determinism.

mod common;

use common::gradcheck::{check_with_step, dot};
use common::{assert_close, devices, uniform};
use ddr_engine::nn::layers::*;
use ddr_engine::nn::{Init, Layer, ParamBuilder, Params, Pass, Residual, Sequential, Want};
use ddr_engine::ops::conv2d::Conv2dSpec;
use ddr_engine::{Device, Rng, Tensor};

/// conv -> lrelu -> residual(conv, relu, conv) -> conv(x4 ch) -> pixel shuffle -> upsample ->
/// batchnorm -> maxpool -> flatten -> linear -> sigmoid: every layer type in one graph.
fn build(pb: &mut ParamBuilder) -> Sequential {
    let mut net = Sequential::new();
    net.push(pb.scope("conv_first", |pb| Conv2d::same(pb, 3, 5, 3, Init::kaiming(1.0))));
    net.push(Act::new(Activation::LeakyRelu(0.1)));
    let mut body = Sequential::new();
    pb.scope("body.0", |pb| {
        body.push(pb.scope("conv1", |pb| Conv2d::same(pb, 5, 5, 3, Init::kaiming(0.5))));
        body.push(Act::new(Activation::Relu));
        body.push(pb.scope("conv2", |pb| Conv2d::same(pb, 5, 5, 3, Init::kaiming(0.5))));
    });
    net.push(Residual { body, scale: 1.0 });
    net.push(pb.scope("up", |pb| {
        Conv2d::new(pb, Conv2dSpec { c_in: 5, c_out: 12, k: 4, stride: 2, pad: 1 }, true, Init::kaiming(1.0))
    }));
    net.push(PixelShuffle { r: 2 });
    net.push(UpsampleBilinear { scale: 2 });
    net.push(pb.scope("bn", |pb| BatchNorm2d::new(pb, 3)));
    net.push(MaxPool2::default());
    net.push(Flatten::default());
    net.push(pb.scope("fc", |pb| Linear::new(pb, 3 * 6 * 4, 2, true, Init::kaiming(1.0))));
    net.push(Act::new(Activation::Sigmoid));
    net
}

fn make(dev: &Device) -> (Sequential, Params) {
    let mut pb = ParamBuilder::new();
    let net = build(&mut pb);
    (net, pb.build(dev, 5).unwrap())
}

#[test]
fn parameters_are_named_and_laid_out_in_declaration_order() {
    for dev in devices("parameters_are_named_and_laid_out_in_declaration_order") {
        let (_, p) = make(&dev);
        let names: Vec<&str> = p.specs().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv_first.weight",
                "conv_first.bias",
                "body.0.conv1.weight",
                "body.0.conv1.bias",
                "body.0.conv2.weight",
                "body.0.conv2.bias",
                "up.weight",
                "up.bias",
                "bn.weight",
                "bn.bias",
                "fc.weight",
                "fc.bias"
            ]
        );
        let bufs: Vec<&str> = p.buffer_specs().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(bufs, ["bn.running_mean", "bn.running_var"]);
        let mut end = 0;
        for s in p.specs() {
            assert_eq!(s.offset, end);
            end += s.len();
        }
        assert_eq!(end, p.len());
    }
}

#[test]
fn whole_network_gradients_match_finite_differences() {
    for dev in devices("whole_network_gradients_match_finite_differences") {
        let (mut net, mut p) = make(&dev);
        let mut rng = Rng::new(41);
        let xs = [2, 3, 6, 4];
        let x = uniform(&mut rng, xs.iter().product(), -1.0, 1.0);
        let y = net.forward(&mut p, &Tensor::from_slice(&x, &xs, &dev).unwrap(), Pass::TRAIN).unwrap();
        assert_eq!(y.shape(), [2, 2]);
        let r = uniform(&mut rng, 4, -1.0, 1.0);
        p.zero_grads().unwrap();
        let dx = net
            .backward(&mut p, &Tensor::from_slice(&r, &[2, 2], &dev).unwrap(), Want::ALL)
            .unwrap()
            .unwrap();
        let theta = p.values.to_vec().unwrap();
        let grads = p.grads.to_vec().unwrap();

        // BatchNorm in train mode: running statistics change with each forward, the output does not
        // depend on them, so repeated forwards are a pure function of (theta, x).
        let loss = |theta: &[f32], x: &[f32]| {
            let (mut net, mut q) = make(&dev);
            q.load_values(theta).unwrap();
            let y = net.forward(&mut q, &Tensor::from_slice(x, &xs, &dev).unwrap(), Pass::TRAIN).unwrap();
            dot(&y.to_vec().unwrap(), &r)
        };
        // Ten stacked layers with ReLU, LeakyReLU and max-pool kinks: a step of 1e-3 keeps the
        // perturbation from flipping any of them (1e-2 flips a few and fails spuriously).
        check_with_step(&format!("network dx on {dev}"), 1e-3, &x, &dx.to_vec().unwrap(), 60, |v| {
            loss(&theta, v)
        });
        check_with_step(&format!("network dtheta on {dev}"), 1e-3, &theta, &grads, 300, |v| loss(v, &x));
    }
}

#[test]
fn kaiming_init_has_the_requested_spread() {
    for dev in devices("kaiming_init_has_the_requested_spread") {
        let mut pb = ParamBuilder::new();
        let id = pb.param("w", &[64, 64, 3, 3], Init::kaiming(0.1));
        let p = pb.build(&dev, 9).unwrap();
        let w = p.values.to_vec().unwrap();
        let w = &w[id.range()];
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        let want = 0.1 * (2.0f64 / (64.0 * 9.0)).sqrt();
        assert!(mean.abs() < 0.02 * want, "mean {mean}");
        assert!((std / want - 1.0).abs() < 0.02, "std {std} vs {want}");
    }
}

#[test]
fn training_forward_backward_is_bit_reproducible() {
    for dev in devices("training_forward_backward_is_bit_reproducible") {
        let run = || {
            let (mut net, mut p) = make(&dev);
            let mut rng = Rng::new(42);
            let x = uniform(&mut rng, 2 * 3 * 6 * 4, -1.0, 1.0);
            let y = net
                .forward(&mut p, &Tensor::from_slice(&x, &[2, 3, 6, 4], &dev).unwrap(), Pass::TRAIN)
                .unwrap();
            let dy = Tensor::full(1.0, y.shape(), &dev).unwrap();
            net.backward(&mut p, &dy, Want::ALL).unwrap();
            (y.to_vec().unwrap(), p.grads.to_vec().unwrap(), p.buffers.to_vec().unwrap())
        };
        assert!(run() == run(), "two runs on {dev} differ");
    }
}

#[test]
fn backward_without_a_recorded_forward_is_an_error() {
    for dev in devices("backward_without_a_recorded_forward_is_an_error") {
        let (mut net, mut p) = make(&dev);
        let x = Tensor::zeros(&[1, 3, 6, 4], &dev).unwrap();
        let y = net.forward(&mut p, &x, Pass { train: true, record: false }).unwrap();
        let e = net.backward(&mut p, &y, Want::ALL).err().unwrap().to_string();
        assert!(e.contains("without a recording forward"), "{e}");
    }
}

/// One training forward and backward of the whole network on each device against the CPU's:
/// outputs, input gradient, every parameter gradient and the updated running statistics. The
/// CUDA kernels sum in other orders than the CPU (f32 GEMM tiles, double block trees), so values
/// agree to 1e-5 relative, not bit for bit.
#[test]
fn every_device_computes_what_the_cpu_computes() {
    let run = |dev: &Device| {
        let (mut net, mut p) = make(dev);
        let mut rng = Rng::new(43);
        let x = uniform(&mut rng, 2 * 3 * 6 * 4, -1.0, 1.0);
        let y =
            net.forward(&mut p, &Tensor::from_slice(&x, &[2, 3, 6, 4], dev).unwrap(), Pass::TRAIN).unwrap();
        let r = uniform(&mut rng, y.numel(), -1.0, 1.0);
        p.zero_grads().unwrap();
        let dx = net
            .backward(&mut p, &Tensor::from_slice(&r, y.shape(), dev).unwrap(), Want::ALL)
            .unwrap()
            .unwrap();
        [y.to_vec().unwrap(), dx.to_vec().unwrap(), p.grads.to_vec().unwrap(), p.buffers.to_vec().unwrap()]
    };
    let cpu = run(&Device::Cpu);
    for dev in devices("every_device_computes_what_the_cpu_computes").into_iter().skip(1) {
        for (what, (got, want)) in ["output", "dx", "parameter gradients", "running statistics"]
            .iter()
            .zip(run(&dev).iter().zip(&cpu))
        {
            assert_close(&format!("{what} on {dev}"), got, want, 1e-5, 1e-5);
        }
    }
}
