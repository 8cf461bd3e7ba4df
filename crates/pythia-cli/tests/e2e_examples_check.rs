//! Every `.toml` example shipped in `examples/` passes `pythia check`, so the quickstart and
//! the documented configurations cannot rot.

mod common;

#[test]
fn every_example_config_passes_check() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = Vec::new();

    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let needs_brokers = std::fs::read_to_string(&path)
            .unwrap()
            .contains("[[relay]]");
        if needs_brokers && !cfg!(feature = "redis") {
            continue;
        }
        let output = common::run(&["check", path.to_str().unwrap()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {output:?}",
            path.display()
        );
        checked.push(path);
    }

    assert!(
        checked.iter().any(|p| p.ends_with("pythia.toml")),
        "{checked:?}"
    );
}
