//! RL-Restore's networks on every device the suite covers: the agent's parameter gradients
//! (its fully connected layer, the LSTM step, the Q layer) and a tool's input and parameter gradients against
//! finite differences; the agent's shapes and its refusal of other patch sizes; a tool's output
//! is its input plus a residual, at the input's size.

mod common;

use common::gradcheck::{check_with_step, dot};
use common::{devices, uniform};
use ddr_engine::nn::models::restore_agent::{LstmState, RestoreAgent, ACTIONS, HIDDEN, PATCH, TOOLS};
use ddr_engine::nn::models::Arch;
use ddr_engine::nn::{Pass, Want};
use ddr_engine::{Device, Rng, Tensor};

struct AgentInput {
    x: Vec<f32>,
    a: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
}

const BATCH: usize = 2;

fn agent_input(rng: &mut Rng) -> AgentInput {
    let mut a = vec![0f32; BATCH * TOOLS];
    a[3] = 1.0; // the first sample's last action was tool 4; the second has none yet
    AgentInput {
        x: uniform(rng, BATCH * 3 * PATCH * PATCH, 0.0, 1.0),
        a,
        h: uniform(rng, BATCH * HIDDEN, -0.9, 0.9),
        c: uniform(rng, BATCH * HIDDEN, -2.0, 2.0),
    }
}

fn agent_q(
    agent: &mut RestoreAgent,
    p: &mut ddr_engine::nn::Params,
    i: &AgentInput,
    dev: &Device,
    pass: Pass,
) -> (Tensor, LstmState) {
    let t = |v: &[f32], s: &[usize]| Tensor::from_slice(v, s, dev).unwrap();
    let state = LstmState { h: t(&i.h, &[BATCH, HIDDEN]), c: t(&i.c, &[BATCH, HIDDEN]) };
    agent.forward(p, &t(&i.x, &[BATCH, 3, PATCH, PATCH]), &t(&i.a, &[BATCH, TOOLS]), &state, pass).unwrap()
}

#[test]
fn agent_parameter_gradients_match_finite_differences() {
    for dev in devices("agent_parameter_gradients_match_finite_differences") {
        let (mut agent, mut p) = RestoreAgent::build(&dev, 3).unwrap();
        let mut rng = Rng::new(77);
        let input = agent_input(&mut rng);
        let (q, next) = agent_q(&mut agent, &mut p, &input, &dev, Pass::TRAIN);
        assert_eq!(q.shape(), [BATCH, ACTIONS]);
        assert_eq!(next.h.shape(), [BATCH, HIDDEN]);
        let r = uniform(&mut rng, BATCH * ACTIONS, -1.0, 1.0);
        p.zero_grads().unwrap();
        agent.backward(&mut p, &Tensor::from_slice(&r, &[BATCH, ACTIONS], &dev).unwrap()).unwrap();
        let theta = p.values.to_vec().unwrap();
        let grads = p.grads.to_vec().unwrap();
        assert!(grads.iter().any(|g| *g != 0.0), "no gradient reached the parameters");
        let loss = |v: &[f32]| {
            let (mut a, mut q) = RestoreAgent::build(&dev, 3).unwrap();
            q.load_values(v).unwrap();
            dot(&agent_q(&mut a, &mut q, &input, &dev, Pass::EVAL).0.to_vec().unwrap(), &r)
        };
        // Checks per tensor, so that the small LSTM and Q tensors are not drowned by the
        // convolutions' weights. The tensors after the last ReLUs (fc's output ReLU: 64 units)
        // are checked; earlier ones feed thousands of ReLUs, of which a step of 1e-3 flips
        // enough to move the difference quotient by more than the tolerance (their layers are
        // checked on their own and composed in nn_compose.rs).
        for s in p.specs().iter().filter(|s| !s.name.starts_with("conv")) {
            let range = s.range();
            let sub = |v: &[f32]| {
                let mut full = theta.clone();
                full[range.clone()].copy_from_slice(v);
                loss(&full)
            };
            // The emulated device runs each kernel thread by thread: fewer checks there.
            let checks = if matches!(dev, Device::Cpu) { 12 } else { 2 };
            let what = format!("agent d{} on {dev}", s.name);
            check_with_step(&what, 1e-3, &theta[range.clone()], &grads[range.clone()], checks, sub);
        }
    }
}

#[test]
fn agent_refuses_patches_of_another_size() {
    let dev = Device::Cpu;
    let (mut agent, mut p) = RestoreAgent::build(&dev, 0).unwrap();
    let x = Tensor::zeros(&[1, 3, 64, 64], &dev).unwrap();
    let a = Tensor::zeros(&[1, TOOLS], &dev).unwrap();
    let err = agent.forward(&mut p, &x, &a, &LstmState::zeros(1, &dev).unwrap(), Pass::EVAL).unwrap_err();
    assert!(err.to_string().contains("63x63"), "{err}");
}

#[test]
fn tool_gradients_match_finite_differences_and_keep_the_size() {
    for dev in devices("tool_gradients_match_finite_differences_and_keep_the_size") {
        for large in [false, true] {
            let arch = Arch::RestoreTool { large };
            assert_eq!(arch.scale(), 1);
            let (mut net, mut p) = arch.build(&dev, 9).unwrap();
            let mut rng = Rng::new(5);
            // Few pixels: the large tool's five ReLU layers see every input pixel, and the fewer
            // units there are, the fewer kinks a step of 1e-3 can cross.
            let xs = if large { [1, 3, 5, 4] } else { [2, 3, 11, 9] };
            let x = uniform(&mut rng, xs.iter().product(), 0.0, 1.0);
            let y = net.forward(&mut p, &Tensor::from_slice(&x, &xs, &dev).unwrap(), Pass::TRAIN).unwrap();
            assert_eq!(y.shape(), xs);
            let r = uniform(&mut rng, y.numel(), -1.0, 1.0);
            p.zero_grads().unwrap();
            let dy = Tensor::from_slice(&r, &xs, &dev).unwrap();
            let dx = net.backward(&mut p, &dy, Want::ALL).unwrap().unwrap().to_vec().unwrap();
            let (theta, grads) = (p.values.to_vec().unwrap(), p.grads.to_vec().unwrap());
            let loss = |theta: &[f32], x: &[f32]| {
                let (mut n, mut q) = arch.build(&dev, 9).unwrap();
                q.load_values(theta).unwrap();
                dot(
                    &n.forward(&mut q, &Tensor::from_slice(x, &xs, &dev).unwrap(), Pass::EVAL)
                        .unwrap()
                        .to_vec()
                        .unwrap(),
                    &r,
                )
            };
            let what = if large { "large tool" } else { "small tool" };
            let (nx, ntheta) = if matches!(dev, Device::Cpu) { (40, 120) } else { (6, 16) };
            check_with_step(&format!("{what} dx on {dev}"), 1e-3, &x, &dx, nx, |v| loss(&theta, v));
            check_with_step(&format!("{what} dtheta on {dev}"), 1e-3, &theta, &grads, ntheta, |v| {
                loss(v, &x)
            });
        }
    }
}
