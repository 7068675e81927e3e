//! The Grafana dashboards in dashboards/: valid JSON of a recent schema, every datasource reference
//! resolves to a datasource provisioned in provisioning/grafana/, and every PromQL expression is
//! accepted by a real Prometheus (`/api/v1/query` answers 400 to a syntax error).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use omen_test_support::prometheus::Prometheus;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dashboards() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("dashboards")).expect("dashboards/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read");
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
            out.push((path, json));
        }
    }
    assert!(
        out.len() >= 4,
        "overview, adapter, remediation and simulator dashboards"
    );
    out
}

/// uid -> type of the provisioned datasources (a small reader for that one YAML shape).
fn provisioned_datasources() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join("provisioning/grafana/datasources/omen.yml"))
        .expect("datasources file");
    let mut out = BTreeMap::new();
    let mut kind: Option<String> = None;
    let mut uid: Option<String> = None;
    let flush = |kind: &mut Option<String>,
                 uid: &mut Option<String>,
                 out: &mut BTreeMap<String, String>| {
        if let (Some(k), Some(u)) = (kind.take(), uid.take()) {
            out.insert(u, k);
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("- name:") {
            flush(&mut kind, &mut uid, &mut out);
        } else if let Some(v) = line.strip_prefix("uid:") {
            uid = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("type:") {
            kind = Some(v.trim().to_string());
        }
    }
    flush(&mut kind, &mut uid, &mut out);
    out
}

/// Every (panel title, datasource object) pair, panels nested in rows included.
fn datasource_refs(dashboard: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    fn walk(panels: &[Value], out: &mut Vec<(String, Value)>) {
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or_default().to_string();
            if panel["type"] != "row" {
                out.push((title.clone(), panel["datasource"].clone()));
                for target in panel["targets"].as_array().into_iter().flatten() {
                    out.push((title.clone(), target["datasource"].clone()));
                }
            }
            walk(
                panel["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                out,
            );
        }
    }
    walk(
        dashboard["panels"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        &mut out,
    );
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            out.push((
                format!("variable {}", variable["name"]),
                variable["datasource"].clone(),
            ));
        }
    }
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if annotation["datasource"]["type"] == "prometheus" {
            out.push(("annotation".into(), annotation["datasource"].clone()));
        }
    }
    out
}

/// Every PromQL expression: panel targets, query variables and annotations.
fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(panels: &[Value], out: &mut Vec<(String, String)>) {
        for panel in panels {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((
                        panel["title"].as_str().unwrap_or_default().to_string(),
                        expr.to_string(),
                    ));
                }
            }
            walk(
                panel["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                out,
            );
        }
    }
    walk(
        dashboard["panels"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        &mut out,
    );
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = annotation["expr"].as_str() {
            out.push(("annotation".into(), expr.to_string()));
        }
    }
    out
}

/// Replaces Grafana's variables by values Prometheus accepts.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$service", ".*")
        .replace("$instance", ".*")
        .replace("$metric", "up")
}

#[test]
fn dashboards_are_valid_recent_and_reference_provisioned_datasources() {
    let provisioned = provisioned_datasources();
    assert_eq!(
        provisioned.get("prometheus").map(String::as_str),
        Some("prometheus")
    );
    assert!(provisioned.contains_key("omen"), "{provisioned:?}");
    let mut uids = std::collections::BTreeSet::new();
    for (path, dashboard) in dashboards() {
        let name = path.display();
        assert!(
            dashboard["schemaVersion"].as_u64().unwrap_or(0) >= 39,
            "{name}: schemaVersion"
        );
        assert!(
            uids.insert(dashboard["uid"].as_str().expect("uid").to_string()),
            "{name}: uid unique"
        );
        assert!(!dashboard["title"].as_str().unwrap_or_default().is_empty());
        // Datasource variables: name -> uid they default to, which must be provisioned with the type they query.
        let mut variables = BTreeMap::new();
        for variable in dashboard["templating"]["list"]
            .as_array()
            .expect("templating")
        {
            if variable["type"] == "datasource" {
                let uid = variable["current"]["value"]
                    .as_str()
                    .expect("current uid")
                    .to_string();
                let kind = variable["query"].as_str().expect("plugin type");
                assert_eq!(
                    provisioned.get(&uid).map(String::as_str),
                    Some(kind),
                    "{name}: variable {}",
                    variable["name"]
                );
                variables.insert(variable["name"].as_str().expect("name").to_string(), uid);
            }
        }
        let refs = datasource_refs(&dashboard);
        assert!(refs.len() > 5, "{name}: has panels");
        let mut ids = std::collections::BTreeSet::new();
        for panel in dashboard["panels"].as_array().expect("panels") {
            assert!(
                ids.insert(panel["id"].as_u64().expect("panel id")),
                "{name}: panel ids unique"
            );
            let grid = &panel["gridPos"];
            assert!(
                grid["x"].as_u64().expect("x") + grid["w"].as_u64().expect("w") <= 24,
                "{name}: panel fits"
            );
        }
        for (title, datasource) in refs {
            let uid = datasource["uid"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: `{title}` has no datasource uid"));
            let uid = match uid.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
                Some(variable) => variables
                    .get(variable)
                    .unwrap_or_else(|| {
                        panic!("{name}: `{title}` uses undefined variable {variable}")
                    })
                    .clone(),
                None => uid.to_string(),
            };
            let kind = provisioned.get(&uid).unwrap_or_else(|| {
                panic!("{name}: `{title}` uses datasource uid {uid}, not provisioned")
            });
            assert_eq!(
                datasource["type"].as_str(),
                Some(kind.as_str()),
                "{name}: `{title}` datasource type"
            );
        }
    }
}

#[test]
fn dashboard_provider_and_datasources_files_are_grafana_provisioning() {
    for file in [
        "provisioning/grafana/datasources/omen.yml",
        "provisioning/grafana/dashboards/omen.yml",
    ] {
        let text = std::fs::read_to_string(repo().join(file)).expect(file);
        assert!(text.contains("apiVersion: 1"), "{file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_expression_is_accepted_by_prometheus() {
    let prometheus =
        Prometheus::start(|_| "global: {scrape_interval: 1m}\n".to_string(), &[]).await;
    // The check itself works: a syntax error is answered 400.
    assert_eq!(prometheus.query_raw("sum(rate(up[1m])").await.0, 400);
    let mut checked = 0;
    for (path, dashboard) in dashboards() {
        let mut all = expressions(&dashboard);
        for variable in dashboard["templating"]["list"]
            .as_array()
            .expect("templating")
        {
            if variable["type"] == "query" {
                // label_values(<selector>, label) is Grafana's; the selector inside must parse.
                let query = variable["definition"].as_str().expect("definition");
                let inner = query
                    .strip_prefix("label_values(")
                    .and_then(|q| q.rsplit_once(','))
                    .map(|(selector, _)| selector.to_string())
                    .unwrap_or_else(|| query.to_string());
                all.push((format!("variable {}", variable["name"]), inner));
            }
        }
        for (title, expr) in all {
            let promql = substitute(&expr);
            let (status, answer) = prometheus.query_raw(&promql).await;
            assert_eq!(
                status,
                200,
                "{}: `{title}`: `{promql}` refused: {answer}",
                Path::new(&path).display()
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} expressions found");
}
