//! Checks that the Rust code blocks of a guide are copies of code in
//! `examples/`, so the docs cannot drift from programs a test runs.

/// Asserts that every ```` ```rust ```` block in `docs` (file names under
/// docs/) appears word for word in some example, and that there are at
/// least `min` blocks.
pub fn assert_rust_blocks_are_examples(docs: &[&str], min: usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut examples = String::new();
    for entry in std::fs::read_dir(format!("{root}/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            examples.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let mut checked = 0;
    for doc in docs {
        let text = std::fs::read_to_string(format!("{root}/docs/{doc}")).unwrap();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "```rust" {
                continue;
            }
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let block = block.join("\n");
            assert!(
                examples.contains(&block),
                "this block of docs/{doc} is not in any example:\n{block}"
            );
            checked += 1;
        }
    }
    assert!(checked >= min, "only {checked} blocks found");
}
