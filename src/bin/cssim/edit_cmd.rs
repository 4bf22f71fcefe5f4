//! `cssim edit`: one image through an edit chain, written to a file so a
//! reviewer can look at what an edit does.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use cssim::eval::transform::{self, Chain};
use cssim::hash::decode::{self, Limits};

use crate::EXIT_OK;

/// Arguments of `cssim edit`.
#[derive(Args, Debug)]
#[command(after_help = "\
Edits (joined with '+', applied left to right; docs/EVALUATION.md, \"Edits\"):
  jpeg:Q  webp  resize:S  resize:WxH  crop:F  crop:L,T,R,B  pad:F[,COLOUR]
  rotate:DEG  flip:h|v  blur:SIGMA  sharpen  brightness:±N  contrast:F  gamma:G
  grayscale  noise:SIGMA  overlay:F  text:\"…\"  aspect:F  screenshot  none

The output format follows OUT's ending: .png (exact), .jpg (quality 95) or
.webp (lossless). The image is EXIF-rotated upright first, as `cssim hash` does.

Example: cssim edit photo.jpg --edit 'resize:0.5+jpeg:70' -o small.png")]
pub struct EditArgs {
    /// The image to edit (PNG, JPEG, GIF, WebP or BMP).
    pub image: PathBuf,
    /// The edit chain, e.g. `crop:0.8+rotate:5+jpeg:70`.
    #[arg(long = "edit", value_name = "CHAIN")]
    pub chain: String,
    /// Seed for the seeded edits (noise, overlay).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the edited image (.png, .jpg or .webp).
    #[arg(short, long, value_name = "OUT")]
    pub out: PathBuf,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `cssim edit`.
pub fn run(args: EditArgs) -> anyhow::Result<u8> {
    // Everything that can be refused is refused before any work.
    let chain = Chain::parse(&args.chain)?;
    let extension = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !matches!(
        extension.to_ascii_lowercase().as_str(),
        "png" | "jpg" | "jpeg" | "webp"
    ) {
        bail!(transform::EditError::OutputFormat { extension });
    }
    if args.out.exists() && !args.force {
        bail!(
            "{}: exists (use --force to overwrite it)",
            args.out.display()
        );
    }
    let bytes = std::fs::read(&args.image).with_context(|| args.image.display().to_string())?;
    let image = decode::decode(&bytes, &Limits::default())
        .with_context(|| args.image.display().to_string())?;
    let edited = chain.apply(&image, args.seed)?;
    let encoded = transform::encode_for_extension(&edited, &extension)?;
    cssim::files::write_atomic(&args.out, &encoded, false)?;
    println!(
        "{} {}×{} → {} {}×{} ({chain}, seed {})",
        args.image.display(),
        image.width(),
        image.height(),
        args.out.display(),
        edited.width(),
        edited.height(),
        args.seed
    );
    Ok(EXIT_OK)
}
