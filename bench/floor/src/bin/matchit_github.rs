//! matchit alone on the GitHub table, timed from Rust: what a lookup costs
//! before any Python object is made.
//!
//!     python bench/bench_router.py --dump-hits /tmp/hits.tsv
//!     cargo run --release --bin matchit_github -- /tmp/hits.tsv
//!
//! Input: one `pattern<TAB>path` line per hit (203 on the GitHub table).
//! Every distinct pattern is inserted; each round looks every path up and
//! walks its params (as the router does, which makes matchit check each key
//! and value as UTF-8). Prints the median over 31 rounds, in ns per lookup.

use std::hint::black_box;
use std::time::Instant;

fn main() {
    let file = std::env::args()
        .nth(1)
        .expect("usage: matchit_github HITS.tsv");
    let text = std::fs::read_to_string(&file).expect("readable hits file");
    let mut router = matchit::Router::new();
    let mut seen = std::collections::HashSet::new();
    let mut paths = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (pattern, path) = line.split_once('\t').expect("pattern<TAB>path");
        if seen.insert(pattern.to_owned()) {
            router.insert(pattern, seen.len()).expect("a valid table");
        }
        paths.push(path.to_owned());
    }
    let reps = 2_000;
    let mut rounds: Vec<f64> = (0..31)
        .map(|_| {
            let start = Instant::now();
            let mut sink = 0usize;
            for _ in 0..reps {
                for path in &paths {
                    let m = router.at(black_box(path)).expect("every hit matches");
                    sink += *m.value;
                    for (key, value) in m.params.iter() {
                        sink += key.len() + value.len();
                    }
                }
            }
            black_box(sink);
            start.elapsed().as_nanos() as f64 / (reps * paths.len()) as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!(
        "matchit: {} paths, median {:.1} ns per lookup (min {:.1}, max {:.1})",
        paths.len(),
        rounds[rounds.len() / 2],
        rounds[0],
        rounds[rounds.len() - 1]
    );
}
