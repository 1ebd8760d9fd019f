use super::GlobalArgs;
use crate::data::image_io::{list_photos, load, save_png};
use crate::data::Image;
use crate::io::write_atomic;
use crate::restore::eval::chain_name;
use crate::restore::policy::load_agent;
use crate::restore::run::restore_image;
use crate::restore::toolbox::Toolbox;
use crate::Result;
use anyhow::{ensure, Context};
use clap::Args;
use std::path::PathBuf;

/// Restore images with the agent's toolchain.
///
/// At each step the agent scores every 63x63 tile of the image, its Q-values are averaged over
/// the tiles, and the best tool is applied to the whole image; the chain ends at "stop" or after
/// 3 tools. Writes OUT/<name>.png per image and OUT/chains.json: per image the tools applied
/// (1-12) and the mean Q-values of the 12 tools and "stop" seen before each step.
///
/// Example:  ddr-engine restore run --toolbox rl --agent rl/agent/agent.safetensors --input in/ --out restored
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// Images or folders of images (PNG/JPEG, at least 63x63).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    input: Vec<PathBuf>,
    #[arg(long, value_name = "DIR")]
    toolbox: PathBuf,
    /// The agent's weights (`restore agent`).
    #[arg(long, value_name = "FILE")]
    agent: PathBuf,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(serde::Serialize)]
struct Record {
    image: String,
    tools: Vec<usize>,
    chain: String,
    q: Vec<Vec<f32>>,
}

pub fn run(global: &GlobalArgs, a: &RunArgs) -> Result<()> {
    let dev = global.open_device()?;
    let (paths, _) = list_photos(&a.input)?;
    ensure!(!paths.is_empty(), "no PNG or JPEG image in the inputs");
    let mut tools = Toolbox::load(&a.toolbox, &dev)?;
    let (mut agent, mut p) = load_agent(&a.agent, &dev)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut records = Vec::new();
    for path in &paths {
        let img = Image::from_rgb8(&load(path)?);
        let (out, chain) = restore_image(&mut agent, &mut p, &mut tools, &img)
            .with_context(|| format!("restoring {}", path.display()))?;
        let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        save_png(&a.out.join(format!("{stem}.png")), &out.to_rgb8()?)?;
        let used = chain.tools();
        println!("{}: {}", path.display(), chain_name(&used));
        records.push(Record {
            image: stem,
            tools: used.iter().map(|t| t + 1).collect(),
            chain: chain_name(&used),
            q: chain.q,
        });
    }
    write_atomic(&a.out.join("chains.json"), |w| Ok(serde_json::to_writer_pretty(w, &records)?))?;
    Ok(())
}
