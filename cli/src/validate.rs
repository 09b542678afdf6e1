//! `kitty-orchestrator validate <feature-dir> [--json]`.

use std::path::PathBuf;

use kitty_orchestrator::{Error, Feature, load_feature_with};
use serde_json::json;

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// The feature: a directory (kitty-specs/<NNN-slug>, .kiro/specs/<name>), a slug under
    /// ./kitty-specs/ or a Kiro spec name under ./.kiro/specs/, or a markdown task list.
    feature: PathBuf,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

/// A slug names `kitty-specs/<slug>` (or the Kiro spec `.kiro/specs/<name>`) when no directory
/// of that name exists here.
pub fn resolve_feature_dir(feature: PathBuf) -> PathBuf {
    if !feature.exists() && feature.components().count() == 1 {
        for specs in ["kitty-specs", ".kiro/specs"] {
            let under_specs = PathBuf::from(specs).join(&feature);
            if under_specs.exists() {
                return under_specs;
            }
        }
    }
    feature
}

pub fn run(args: Args) -> u8 {
    let dir = resolve_feature_dir(args.feature);
    match load_feature_with(&dir, &crate::load_options()) {
        Ok(feature) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&feature_json(&feature)).expect("serializable"));
            } else {
                print_feature(&feature);
            }
            exit::OK
        }
        Err(err) => {
            if args.json {
                let problems = serde_json::to_value(&err.problems).expect("serializable");
                let doc = json!({ "valid": false, "code": Error::from(err.clone()).code(), "error": err.to_string(), "problems": problems });
                println!("{}", serde_json::to_string_pretty(&doc).expect("serializable"));
            } else {
                // One problem a line; what a task file holds is shown neutralised.
                let text = err.to_string();
                let lines: Vec<String> = text.lines().map(crate::render::clean).collect();
                eprintln!("error: {}", lines.join("\n"));
            }
            exit::BAD_INPUT
        }
    }
}

fn feature_json(feature: &Feature) -> serde_json::Value {
    let order: Vec<_> = feature
        .topological_order()
        .iter()
        .map(|id| {
            let wp = feature.work_package(id).expect("ids come from the feature");
            json!({
                "id": wp.id,
                "title": wp.title,
                "lane": wp.initial_lane,
                "dependencies": wp.dependencies,
                "subtasks": wp.subtasks,
                "phase": wp.phase,
                "source": wp.source,
            })
        })
        .collect();
    json!({
        "valid": true,
        "slug": feature.slug,
        "dir": feature.dir,
        "layout": feature.layout,
        "target_branch": feature.meta.target_branch,
        "work_packages": order,
    })
}

fn print_feature(feature: &Feature) {
    let n = feature.work_packages.len();
    let layout = serde_json::to_value(feature.layout).expect("serializable");
    let layout = layout.as_str().unwrap_or_default();
    println!("{}: {n} work package{} ({layout} layout), valid", feature.slug, if n == 1 { "" } else { "s" });
    let width = feature.work_packages.iter().map(|wp| wp.title.chars().count()).max().unwrap_or(0).min(48);
    for id in feature.topological_order() {
        let wp = feature.work_package(&id).expect("ids come from the feature");
        let deps = if wp.dependencies.is_empty() {
            "-".to_string()
        } else {
            wp.dependencies.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
        };
        let title: String = crate::render::clean(&wp.title).chars().take(width).collect();
        println!("  {id:<6} {:<10} {title:<width$}  after: {deps}", wp.initial_lane);
    }
}
