//! `omen drill`: a short scheduled sequence of incidents in simulated time, scored by the
//! production scoring path and alerted by the anomaly rule.

use std::process::Command;

fn drill(json: &std::path::Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_omen"))
        .args([
            "drill",
            "--incidents",
            "5",
            "--seed",
            "3",
            "--warmup",
            "1h",
            "--min-gap",
            "20m",
            "--max-gap",
            "30m",
            "--json",
        ])
        .arg(json)
        .output()
        .expect("omen runs");
    assert!(
        output.status.success(),
        "omen drill failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("precision"), "summary printed: {table}");
    serde_json::from_str(&std::fs::read_to_string(json).expect("json written")).expect("json")
}

#[test]
fn a_drill_detects_strong_incidents_after_the_rule_hold_and_is_reproducible() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = drill(&dir.path().join("a.json"));
    let detections = report["detections"].as_array().expect("detections");
    let kinds: Vec<&str> = detections
        .iter()
        .map(|d| d["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "latency_spike",
            "error_burst",
            "memory_leak",
            "traffic_drop",
            "cpu_saturation"
        ]
    );
    assert!(report["scored_series"].as_u64().expect("series") > 0);
    for strong in ["latency_spike", "cpu_saturation"] {
        let d = detections
            .iter()
            .find(|d| d["kind"] == strong)
            .expect("scheduled");
        let after = d["detected_after_s"]
            .as_f64()
            .unwrap_or_else(|| panic!("{strong} not detected: {report:#}"));
        // The rule holds for one minute after the 1m average crosses 1; the incident lasts 10m.
        assert!(
            (60.0..600.0).contains(&after),
            "{strong} detected after {after} s"
        );
    }
    let detected = detections
        .iter()
        .filter(|d| !d["detected_after_s"].is_null())
        .count();
    assert_eq!(report["detected"].as_u64(), Some(detected as u64));
    let recall = report["recall"].as_f64().expect("recall");
    assert!((recall - detected as f64 / 5.0).abs() < 1e-9);

    let again = drill(&dir.path().join("b.json"));
    assert_eq!(report, again, "same seed, same drill");
}
