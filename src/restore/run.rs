//! Restoring whole images: the agent looks at 63x63 patches, so at each step it scores every
//! tile of a grid that covers the image (the last row and column of tiles flush with the
//! border), the Q-values are averaged over the tiles, and the chosen tool is applied to the whole
//! image. Each tile keeps its own LSTM state; the chain ends at "stop" or after three tools.

use super::policy::{argmax, one_hot, Chain, MAX_STEPS, STOP};
use super::toolbox::{stack, Toolbox};
use crate::data::Image;
use crate::nn::models::restore_agent::{LstmState, RestoreAgent, ACTIONS, PATCH};
use crate::nn::{Params, Pass};
use crate::Result;
use anyhow::ensure;

/// Top-left corners of the tiles along one axis of length `n` (>= PATCH).
fn starts(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..=n - PATCH).step_by(PATCH).collect();
    if *v.last().expect("n >= PATCH") != n - PATCH {
        v.push(n - PATCH);
    }
    v
}

/// The restored image and its chain (Q-values: the mean over tiles at each step).
pub fn restore_image(
    agent: &mut RestoreAgent,
    p: &mut Params,
    tools: &mut Toolbox,
    img: &Image,
) -> Result<(Image, Chain)> {
    ensure!(
        img.h >= PATCH && img.w >= PATCH,
        "the agent looks at {PATCH}x{PATCH} patches: a {}x{} image is too small",
        img.w,
        img.h
    );
    let dev = tools.device().clone();
    let corners: Vec<(usize, usize)> =
        starts(img.h).into_iter().flat_map(|y| starts(img.w).into_iter().map(move |x| (y, x))).collect();
    let n = corners.len();
    let mut cur = img.clone();
    let mut state = LstmState::zeros(n, &dev)?;
    let mut last = None;
    let mut chain = Chain::default();
    for _ in 0..MAX_STEPS {
        let tiles = corners.iter().map(|&(y, x)| cur.crop(y, x, PATCH, PATCH)).collect::<Result<Vec<_>>>()?;
        let x = stack(&tiles.iter().collect::<Vec<_>>(), &dev)?;
        let (q, next) = agent.forward(p, &x, &one_hot(&vec![last; n], &dev)?, &state, Pass::EVAL)?;
        state = next;
        let q = q.to_vec()?;
        let mean: Vec<f32> =
            (0..ACTIONS).map(|a| (0..n).map(|t| q[t * ACTIONS + a]).sum::<f32>() / n as f32).collect();
        let a = argmax(&mean);
        chain.actions.push(a);
        chain.q.push(mean);
        if a == STOP {
            break;
        }
        cur = tools.apply(a, &[&cur])?.remove(0);
        last = Some(a);
    }
    Ok((cur, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_axis_flush_with_the_end() {
        assert_eq!(starts(63), vec![0]);
        assert_eq!(starts(64), vec![0, 1]);
        assert_eq!(starts(126), vec![0, 63]);
        assert_eq!(starts(130), vec![0, 63, 67]);
    }
}
