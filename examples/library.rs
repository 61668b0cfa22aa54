//! Using raug as a library: relabel one row in memory, then a whole file with the driver.
//!
//! Run with `cargo run --example library`.

use raug::driver::{self, Job};
use raug::fields::FieldNames;
use raug::io::{Source, Target};
use raug::json::row::{detect, Relabeler};
use raug::relabel::{Spec, Template};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One row: detect the layout from it, then relabel it into two rows.
    let row = r#"{"prompt": "Name a prime.", "chosen": "7", "rejected": "9", "score_chosen": 9.0, "score_rejected": 2.5}"#;
    let spec = Spec {
        template: Template::new("Target quality: {score}/10.")?,
        ..Spec::default()
    };
    let resolved = detect(row, &FieldNames::default(), spec.style)?.expect("row is an object");
    println!("detected: {resolved}");
    let mut out = vec![Vec::new()];
    Relabeler::new(&spec, &resolved).relabel(row, &mut out)?;
    print!("{}", String::from_utf8(out.remove(0))?);

    // A whole file, streamed and relabeled in parallel.
    let input = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ultrafeedback_sample.jsonl"
    );
    let output = std::env::temp_dir().join("raug-library-example.jsonl");
    let job = Job::new(
        vec![Source::File(input.into())],
        Target::File(output.clone()),
    );
    let summary = driver::relabel(&job)?;
    println!("{} -> {}: {}", input, output.display(), summary.line());
    Ok(())
}
