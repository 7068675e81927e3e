//! deploy/kubernetes: every manifest parses, the configurations embedded in ConfigMaps are valid
//! for the binaries that read them, and the objects refer to each other consistently (mounted
//! config files, ports, Service selectors, probes, secrets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_yaml_ng::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

fn documents(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The objects the kustomization applies, by (kind, name).
fn applied() -> BTreeMap<(String, String), Value> {
    let kustomization = &documents(&dir().join("kustomization.yaml"))[0];
    let mut objects = BTreeMap::new();
    for resource in kustomization["resources"].as_sequence().expect("resources") {
        let file = dir().join(resource.as_str().expect("file name"));
        for doc in documents(&file) {
            let kind = doc["kind"].as_str().expect("kind").to_owned();
            let name = doc["metadata"]["name"].as_str().expect("name").to_owned();
            assert!(doc["apiVersion"].is_string(), "{kind}/{name}: apiVersion");
            assert!(
                objects.insert((kind.clone(), name.clone()), doc).is_none(),
                "{kind}/{name} defined twice"
            );
        }
    }
    objects
}

fn config_file<'a>(
    objects: &'a BTreeMap<(String, String), Value>,
    map: &str,
    key: &str,
) -> &'a str {
    objects[&("ConfigMap".to_owned(), map.to_owned())]["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("ConfigMap {map} has no {key}"))
}

#[test]
fn every_manifest_parses_and_every_file_is_applied_or_documented() {
    let objects = applied();
    assert!(objects.len() >= 10, "{} objects", objects.len());
    for entry in std::fs::read_dir(dir()).expect("deploy/kubernetes") {
        let path = entry.expect("entry").path();
        assert!(!documents(&path).is_empty(), "{} is empty", path.display());
    }
}

#[test]
fn the_embedded_configurations_are_valid() {
    let objects = applied();
    let adapter =
        omen_prom_adapter::Config::from_yaml(config_file(&objects, "omen-adapter", "adapter.yml"))
            .expect("adapter.yml is valid");
    adapter.validate().expect("adapter.yml validates");
    let webhook =
        omen_webhook::Config::from_yaml(config_file(&objects, "omen-webhook", "webhook.yml"))
            .expect("webhook.yml is valid");
    omen_webhook::rules::RuleSet::new(&webhook).expect("webhook rules and templates compile");
    assert_eq!(adapter.listen.port(), 9201);
    assert_eq!(webhook.listen.port(), 9301);
}

#[test]
fn deployments_mount_their_config_expose_their_ports_and_are_selected_by_their_service() {
    let objects = applied();
    for ((kind, name), deployment) in &objects {
        if kind != "Deployment" {
            continue;
        }
        let template = &deployment["spec"]["template"];
        let pod_labels = &template["metadata"]["labels"];
        for (key, value) in deployment["spec"]["selector"]["matchLabels"]
            .as_mapping()
            .expect("matchLabels")
        {
            assert_eq!(
                &pod_labels[key], value,
                "{name}: selector matches pod labels"
            );
        }
        let volumes = template["spec"]["volumes"].as_sequence().expect("volumes");
        for container in template["spec"]["containers"]
            .as_sequence()
            .expect("containers")
        {
            let args: Vec<&str> = container["args"]
                .as_sequence()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("arg"))
                .collect();
            let config = args
                .iter()
                .position(|a| *a == "--config")
                .map(|i| args[i + 1])
                .expect("--config");
            let (mount_dir, file) = config.rsplit_once('/').expect("path");
            let mount = container["volumeMounts"]
                .as_sequence()
                .expect("mounts")
                .iter()
                .find(|m| m["mountPath"].as_str() == Some(mount_dir))
                .unwrap_or_else(|| panic!("{name}: nothing mounted at {mount_dir}"));
            let volume = volumes
                .iter()
                .find(|v| v["name"] == mount["name"])
                .expect("mounted volume exists");
            let map = volume["configMap"]["name"]
                .as_str()
                .expect("config map volume");
            config_file(&objects, map, file);

            let ports: Vec<&Value> = container["ports"]
                .as_sequence()
                .expect("ports")
                .iter()
                .collect();
            let port_names: Vec<&str> = ports
                .iter()
                .map(|p| p["name"].as_str().expect("port name"))
                .collect();
            for probe in ["readinessProbe", "livenessProbe"] {
                if let Some(port) = container[probe]["httpGet"]["port"].as_str() {
                    assert!(port_names.contains(&port), "{name}: {probe} port {port}");
                }
            }
            for env in container["env"].as_sequence().into_iter().flatten() {
                let secret = &env["valueFrom"]["secretKeyRef"];
                if secret.is_mapping() {
                    assert_eq!(
                        secret["name"],
                        volume_secret_name(volumes),
                        "{name}: one secret"
                    );
                }
            }
            let service = &objects[&("Service".to_owned(), name.clone())];
            for (key, value) in service["spec"]["selector"].as_mapping().expect("selector") {
                assert_eq!(&pod_labels[key], value, "Service {name} selects the pods");
            }
            for port in service["spec"]["ports"]
                .as_sequence()
                .expect("service ports")
            {
                let target = port["targetPort"].as_str().expect("named targetPort");
                assert!(
                    port_names.contains(&target),
                    "Service {name}: targetPort {target}"
                );
            }
        }
        if let Some(account) = template["spec"]["serviceAccountName"].as_str() {
            assert!(
                objects.contains_key(&("ServiceAccount".to_owned(), account.to_owned())),
                "{name}: service account {account} exists"
            );
        }
    }
}

fn volume_secret_name(volumes: &[Value]) -> Value {
    volumes
        .iter()
        .find_map(|v| v["secret"]["secretName"].as_str())
        .map_or(Value::Null, |s| Value::String(s.to_owned()))
}
