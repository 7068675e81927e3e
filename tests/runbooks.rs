//! Every alert in rules/ has summary, description and a runbook_url pointing at a runbook section of
//! docs/operations.md, and the runbooks cover every alert.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (alert name, annotation keys, runbook anchor) for every alert of every rule file.
fn alerts() -> Vec<(String, Vec<String>, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("rules")).expect("rules/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let mut current: Option<(String, Vec<String>, String)> = None;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix("- alert: ") {
                out.extend(current.take());
                current = Some((name.trim().to_string(), Vec::new(), String::new()));
            } else if trimmed.starts_with("- record: ") {
                out.extend(current.take());
            } else if let Some((_, keys, anchor)) = current.as_mut() {
                for key in ["summary", "description", "runbook_url"] {
                    if trimmed.starts_with(&format!("{key}:")) {
                        keys.push(key.to_string());
                    }
                }
                if let Some(url) = trimmed.strip_prefix("runbook_url:") {
                    let url = url.trim().trim_matches('"');
                    *anchor = url
                        .split_once("docs/operations.md#")
                        .map(|(_, a)| a.to_string())
                        .unwrap_or_default();
                }
            }
        }
        out.extend(current);
    }
    out
}

#[test]
fn every_alert_has_annotations_and_a_runbook_section() {
    let docs = std::fs::read_to_string(repo().join("docs/operations.md")).expect("operations.md");
    let anchors: Vec<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let alerts = alerts();
    assert!(alerts.len() >= 20, "found {} alerts", alerts.len());
    for (name, keys, anchor) in &alerts {
        assert_eq!(
            keys,
            &["summary", "description", "runbook_url"],
            "{name}: annotations"
        );
        assert_eq!(anchor, &name.to_lowercase(), "{name}: runbook_url anchor");
        assert!(
            anchors.contains(anchor),
            "{name}: no `### {name}` in docs/operations.md"
        );
    }
    for anchor in &anchors {
        assert!(
            alerts
                .iter()
                .any(|(name, _, _)| &name.to_lowercase() == anchor),
            "docs/operations.md has a runbook for `{anchor}`, which is no alert"
        );
    }
}
