//! The paper's comparison on held-out patches at each severity: every single tool, the best
//! fixed chain, a random chain, the agent, and the oracle that picks, per patch, the best of
//! every chain of at most three tools.
//!
//! One search computes the PSNR of all 1 + 12 + 144 + 1728 chains on every patch (fewer with a
//! shallower search depth, for quick looks and tests); the single
//! tools, the best fixed chain (the chain with the best mean, chosen on these same patches, so
//! it is an upper bound on any fixed chain), the random chain (length and tools uniform, drawn
//! from the seed) and the oracle are read off that table.

use super::levels::{make_patches, patch_psnr, PhotoSource, Severity};
use super::policy::{restore_patches, Chain, MAX_STEPS};
use super::toolbox::Toolbox;
use crate::data::Image;
use crate::nn::models::restore_agent::{RestoreAgent, PATCH, TOOLS};
use crate::nn::Params;
use crate::{Result, Rng};
use serde::Serialize;

/// A toolchain as the tables print it: "3 > 7 > 12" (1-based tools), "(none)".
pub fn chain_name(chain: &[usize]) -> String {
    if chain.is_empty() {
        return "(none)".to_string();
    }
    chain.iter().map(|t| (t + 1).to_string()).collect::<Vec<_>>().join(" > ")
}

/// Every chain of at most `depth` tools, shortest first, in lexicographic order.
pub fn all_chains(depth: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    let mut frontier = vec![Vec::new()];
    for _ in 0..depth {
        let mut next = Vec::new();
        for c in &frontier {
            for t in 0..TOOLS {
                let mut d: Vec<usize> = c.clone();
                d.push(t);
                next.push(d);
            }
        }
        out.extend(next.iter().cloned());
        frontier = next;
    }
    out
}

/// PSNR of every chain on every patch: `psnr[chain][patch]`, chains as [`all_chains`].
pub fn chain_table(
    tools: &mut Toolbox,
    inputs: &[Image],
    targets: &[Image],
    depth: usize,
) -> Result<Vec<Vec<f64>>> {
    let score =
        |imgs: &[Image]| imgs.iter().zip(targets).map(|(a, b)| patch_psnr(a, b)).collect::<Vec<f64>>();
    let mut table = vec![score(inputs)];
    let mut frontier: Vec<Vec<Image>> = vec![inputs.to_vec()];
    for level in 0..depth {
        let mut next = Vec::new();
        for imgs in &frontier {
            for t in 0..TOOLS {
                let out = tools.apply(t, &imgs.iter().collect::<Vec<_>>())?;
                table.push(score(&out));
                // The last level's images are scored and dropped.
                if level + 1 < depth {
                    next.push(out);
                }
            }
        }
        frontier = next;
    }
    Ok(table)
}

/// One line of the table: mean PSNR (dB) at each severity in [`Severity::ALL`] order.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub method: String,
    pub psnr: Vec<f64>,
    /// What the row chose at each severity (the best fixed chain's tools), if anything.
    pub detail: Vec<String>,
}

/// The evaluation at every severity.
#[derive(Serialize)]
pub struct Evaluation {
    pub plan: EvalPlan,
    pub rows: Vec<Row>,
    /// The agent's chains, per severity, patch by patch.
    pub agent_chains: Vec<Vec<Chain>>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// How an evaluation samples and searches.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct EvalPlan {
    /// Held-out patches per severity.
    pub patches: usize,
    pub seed: u64,
    /// The longest chain searched (and drawn for the random chain): 1 to [`MAX_STEPS`].
    pub depth: usize,
}

/// Evaluates on held-out patches of `src` at every severity.
pub fn evaluate(
    tools: &mut Toolbox,
    mut agent: Option<(&mut RestoreAgent, &mut Params)>,
    src: &PhotoSource,
    plan: EvalPlan,
    progress: &dyn Fn(&str),
) -> Result<Evaluation> {
    let EvalPlan { patches, seed, depth } = plan;
    anyhow::ensure!(
        (1..=MAX_STEPS).contains(&depth),
        "the search depth must be 1 to {MAX_STEPS}, not {depth}"
    );
    anyhow::ensure!(patches > 0, "at least one patch per severity is needed");
    let chains = all_chains(depth);
    let mut rows: Vec<Row> = Vec::new();
    let row = |rows: &mut Vec<Row>, method: String| -> usize {
        rows.iter().position(|r| r.method == method).unwrap_or_else(|| {
            rows.push(Row { method, psnr: Vec::new(), detail: Vec::new() });
            rows.len() - 1
        })
    };
    let mut agent_chains = Vec::new();
    for (si, sev) in Severity::ALL.into_iter().enumerate() {
        let set = make_patches(src, sev, patches, PATCH, &mut Rng::derive(seed, &[10 + si as u64]))?;
        progress(&format!("{}: every chain of at most {depth} tools on {patches} patches", sev.name()));
        let table = chain_table(tools, &set.inputs, &set.targets, depth)?;
        let push = |rows: &mut Vec<Row>, i: usize, v: f64, d: String| {
            rows[i].psnr.push(v);
            rows[i].detail.push(d);
        };
        let i = row(&mut rows, "input".into());
        push(&mut rows, i, mean(&table[0]), String::new());
        for t in 0..TOOLS {
            let i = row(&mut rows, format!("tool {}", t + 1));
            push(&mut rows, i, mean(&table[1 + t]), String::new());
        }
        let best = (1..chains.len())
            .max_by(|&a, &b| mean(&table[a]).total_cmp(&mean(&table[b])))
            .expect("chains exist");
        let i = row(&mut rows, "best fixed chain".into());
        push(&mut rows, i, mean(&table[best]), chain_name(&chains[best]));
        let mut rng = Rng::derive(seed, &[20 + si as u64]);
        let random: Vec<f64> = (0..patches)
            .map(|k| {
                let len = 1 + rng.below(depth as u64) as usize;
                let c: Vec<usize> = (0..len).map(|_| rng.below(TOOLS as u64) as usize).collect();
                let idx = chains.iter().position(|x| *x == c).expect("a chain of the table");
                table[idx][k]
            })
            .collect();
        let i = row(&mut rows, "random chain".into());
        push(&mut rows, i, mean(&random), String::new());
        if let Some((a, p)) = agent.as_mut() {
            let (out, ch) = restore_patches(a, p, tools, &set.inputs)?;
            let psnr: Vec<f64> = out.iter().zip(&set.targets).map(|(x, y)| patch_psnr(x, y)).collect();
            let steps = ch.iter().map(|c| c.tools().len()).sum::<usize>() as f64 / patches as f64;
            let i = row(&mut rows, "agent".into());
            push(&mut rows, i, mean(&psnr), format!("{steps:.2} tools per patch"));
            agent_chains.push(ch);
        }
        let oracle: Vec<f64> =
            (0..patches).map(|k| table.iter().map(|c| c[k]).fold(f64::NEG_INFINITY, f64::max)).collect();
        let i = row(&mut rows, "oracle (best chain per patch)".into());
        push(&mut rows, i, mean(&oracle), String::new());
    }
    Ok(Evaluation { plan, rows, agent_chains })
}

/// The table as Markdown: one row per method, one column per severity.
pub fn markdown(e: &Evaluation) -> String {
    let mut s = String::from("| method | mild | moderate | severe |\n|---|---:|---:|---:|\n");
    for r in &e.rows {
        let cells: Vec<String> = r
            .psnr
            .iter()
            .zip(&r.detail)
            .map(|(v, d)| if d.is_empty() { format!("{v:.2}") } else { format!("{v:.2} ({d})") })
            .collect();
        s.push_str(&format!("| {} | {} |\n", r.method, cells.join(" | ")));
    }
    s
}

/// The table as CSV: method, then the mean PSNR at each severity.
pub fn csv(e: &Evaluation) -> String {
    let mut s = String::from("method,mild,moderate,severe\n");
    for r in &e.rows {
        let cells: Vec<String> = r.psnr.iter().map(|v| format!("{v:.4}")).collect();
        s.push_str(&format!("{},{}\n", r.method, cells.join(",")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_cover_every_sequence_of_at_most_three_tools_once() {
        let c = all_chains(3);
        assert_eq!(c.len(), 1 + 12 + 144 + 1728);
        let mut sorted = c.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), c.len());
        assert_eq!(chain_name(&c[1 + 12 + 1]), "1 > 2");
    }
}
