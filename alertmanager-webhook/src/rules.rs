//! Compiled remediation rules: which alerts become which jobs, with action parameters rendered
//! from templates.
//!
//! Templates are [MiniJinja](https://docs.rs/minijinja) (Jinja2 syntax) with the alert in scope:
//! `labels`, `annotations`, `status`, `fingerprint`, `startsAt`, `endsAt`, `generatorURL`, and the
//! notification's `receiver`, `externalURL`, `groupKey`, `groupLabels`, `commonLabels`,
//! `commonAnnotations`. A missing label renders as the empty string.

use std::collections::BTreeMap;

use minijinja::Environment;
use regex::Regex;
use serde_json::json;

use crate::Error;
use crate::actions::Spec;
use crate::config::{ActionConfig, ChatFormat, Config, KubernetesOperation};
use crate::matcher::{Matcher, all_match};
use crate::payload::{Alert, Notification, Status};

/// A job to store: one action of one rule for one alert state.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Identity that makes the job unique: rule, action, fingerprint, start and status.
    pub dedup_key: String,
    /// The rule's name.
    pub rule: String,
    /// The action's name.
    pub action: String,
    /// The action's kind (`http`, `command`, ...).
    pub kind: &'static str,
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// Firing or resolved.
    pub alert_status: Status,
    /// The alert's start, Unix milliseconds.
    pub starts_at: i64,
    /// What cooldowns and re-fire limits count per: `<action>/<rendered cooldown_key>`.
    pub target: String,
    /// The rendered action, or why rendering failed (the job is then recorded as failed).
    pub spec: Result<Spec, String>,
    /// Record instead of acting.
    pub dry_run: bool,
    /// Wait for approval through the API.
    pub approval: bool,
    /// First attempt plus retries.
    pub max_attempts: i64,
}

struct CompiledRule {
    name: String,
    matchers: Vec<Matcher>,
    on: Vec<Status>,
    actions: Vec<String>,
    dry_run: bool,
    stop: bool,
    refire_limit: Option<(u32, std::time::Duration)>,
}

/// Rules and action templates, compiled once at start.
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    actions: BTreeMap<String, ActionConfig>,
    arg_patterns: BTreeMap<String, Regex>,
    env: Environment<'static>,
    global_dry_run: bool,
    max_replicas: u32,
}

fn template_name(action: &str, field: &str) -> String {
    format!("{action}\u{1f}{field}")
}

impl RuleSet {
    /// Compiles the rules of a validated configuration; template syntax errors are reported here.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        // Parameters are rendered into JSON, URLs and argv, never into HTML.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let mut add = |action: &str, field: &str, source: &str| -> Result<(), Error> {
            env.add_template_owned(template_name(action, field), source.to_owned())
                .map_err(|e| Error::Config(format!("action `{action}`, {field}: {e}")))
        };
        let mut arg_patterns = BTreeMap::new();
        for (name, action) in &config.actions {
            add(
                name,
                "cooldown_key",
                action
                    .cooldown_key
                    .as_deref()
                    .unwrap_or("{{ fingerprint }}"),
            )?;
            if let Some(http) = &action.http {
                add(name, "url", &http.url)?;
                if let Some(body) = &http.body {
                    add(name, "body", body)?;
                }
                for (header, value) in &http.headers {
                    add(name, &format!("header.{header}"), value)?;
                }
            }
            if let Some(command) = &action.command {
                for (i, arg) in command.argv.iter().enumerate().skip(1) {
                    add(name, &format!("arg.{i}"), arg)?;
                }
                for (var, value) in &command.env {
                    add(name, &format!("env.{var}"), value)?;
                }
                let pattern = Regex::new(&format!("^(?:{})$", command.arg_pattern))
                    .map_err(|e| Error::Config(format!("action `{name}`: arg_pattern: {e}")))?;
                arg_patterns.insert(name.clone(), pattern);
            }
            if let Some(k8s) = &action.kubernetes {
                add(name, "namespace", &k8s.namespace)?;
                add(name, "name", &k8s.name)?;
                if let Some(replicas) = &k8s.replicas {
                    add(name, "replicas", replicas)?;
                }
            }
            if let Some(email) = &action.email {
                add(name, "subject", &email.subject)?;
                add(name, "body", &email.body)?;
            }
            if let Some(chat) = &action.chat {
                add(name, "text", &chat.text)?;
            }
        }
        let rules = config
            .rules
            .iter()
            .map(|rule| {
                let matchers = rule
                    .matchers
                    .iter()
                    .map(|m| Matcher::parse(m))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Error::Config(format!("rule `{}`: {e}", rule.name)))?;
                Ok(CompiledRule {
                    name: rule.name.clone(),
                    matchers,
                    on: rule.on.clone(),
                    actions: rule.actions.clone(),
                    dry_run: rule.dry_run,
                    stop: rule.stop,
                    refire_limit: rule.refire_limit.as_ref().map(|l| (l.max_runs, l.within)),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self {
            rules,
            actions: config.actions.clone(),
            arg_patterns,
            env,
            global_dry_run: config.engine.dry_run,
            max_replicas: config.kubernetes.as_ref().map_or(50, |k| k.max_replicas),
        })
    }

    /// The jobs an alert of `notification` calls for (none when no rule matches).
    pub fn jobs_for(
        &self,
        notification: &Notification,
        alert: &Alert,
        starts_at: i64,
    ) -> Vec<NewJob> {
        let mut jobs = Vec::new();
        let mut context = None;
        for rule in &self.rules {
            if !rule.on.contains(&alert.status) || !all_match(&rule.matchers, &alert.labels) {
                continue;
            }
            let context = context.get_or_insert_with(|| template_context(notification, alert));
            for action_name in &rule.actions {
                let Some(action) = self.actions.get(action_name) else {
                    continue;
                };
                let target = self
                    .render(action_name, "cooldown_key", context)
                    .unwrap_or_else(|_| alert.fingerprint.clone());
                jobs.push(NewJob {
                    dedup_key: format!(
                        "{}/{}/{}/{}/{}",
                        rule.name,
                        action_name,
                        alert.fingerprint,
                        starts_at,
                        alert.status.as_str()
                    ),
                    rule: rule.name.clone(),
                    action: action_name.clone(),
                    kind: action.kind(),
                    fingerprint: alert.fingerprint.clone(),
                    alert_status: alert.status,
                    starts_at,
                    target: format!("{action_name}/{target}"),
                    spec: self.render_spec(action_name, action, context, alert),
                    dry_run: self.global_dry_run || rule.dry_run,
                    approval: action.approval,
                    max_attempts: i64::from(action.retries) + 1,
                });
            }
            if rule.stop {
                break;
            }
        }
        jobs
    }

    /// The configuration of an action, by name.
    pub fn action(&self, name: &str) -> Option<&ActionConfig> {
        self.actions.get(name)
    }

    /// The re-fire limit of a rule: (runs, window).
    pub fn refire_limit(&self, rule: &str) -> Option<(u32, std::time::Duration)> {
        self.rules
            .iter()
            .find(|r| r.name == rule)
            .and_then(|r| r.refire_limit)
    }

    /// Renders a chat message for an escalation (no alert in scope but `text`).
    pub fn chat_spec(&self, action: &str, text: &str) -> Option<Spec> {
        let chat = self.actions.get(action)?.chat.as_ref()?;
        Some(Spec::Chat {
            url: chat.url.clone(),
            payload: chat_payload(chat.format, text),
        })
    }

    fn render(
        &self,
        action: &str,
        field: &str,
        context: &minijinja::Value,
    ) -> Result<String, String> {
        self.env
            .get_template(&template_name(action, field))
            .and_then(|t| t.render(context))
            .map_err(|e| format!("{field}: {e}"))
    }

    fn render_spec(
        &self,
        name: &str,
        action: &ActionConfig,
        context: &minijinja::Value,
        alert: &Alert,
    ) -> Result<Spec, String> {
        let render = |field: &str| self.render(name, field, context);
        if let Some(http) = &action.http {
            let mut headers = BTreeMap::new();
            for header in http.headers.keys() {
                headers.insert(header.clone(), render(&format!("header.{header}"))?);
            }
            return Ok(Spec::Http {
                method: http.method.clone(),
                url: render("url")?,
                headers,
                body: http.body.as_ref().map(|_| render("body")).transpose()?,
            });
        }
        if let Some(command) = &action.command {
            let mut argv = vec![command.argv[0].clone()];
            let pattern = self.arg_patterns.get(name);
            for i in 1..command.argv.len() {
                let arg = render(&format!("arg.{i}"))?;
                if let Some(pattern) = pattern
                    && !pattern.is_match(&arg)
                {
                    return Err(format!(
                        "argument {i} `{arg}` does not match arg_pattern `{}`",
                        command.arg_pattern
                    ));
                }
                argv.push(arg);
            }
            let mut env = BTreeMap::new();
            for (prefix, values) in [
                ("OMEN_LABEL_", &alert.labels),
                ("OMEN_ANNOTATION_", &alert.annotations),
            ] {
                for (key, value) in values {
                    env.insert(format!("{prefix}{}", env_name(key)), value.clone());
                }
            }
            env.insert("OMEN_ALERT_STATUS".into(), alert.status.as_str().into());
            env.insert("OMEN_ALERT_FINGERPRINT".into(), alert.fingerprint.clone());
            env.insert("OMEN_ALERT_STARTS_AT".into(), alert.starts_at.clone());
            for var in command.env.keys() {
                env.insert(var.clone(), render(&format!("env.{var}"))?);
            }
            return Ok(Spec::Command { argv, env });
        }
        if let Some(k8s) = &action.kubernetes {
            let namespace = render("namespace")?;
            let workload = render("name")?;
            check_dns_name("namespace", &namespace, 63)?;
            check_dns_name("name", &workload, 253)?;
            let replicas = match &k8s.replicas {
                Some(_) => {
                    let text = render("replicas")?;
                    let replicas: u32 = text
                        .trim()
                        .parse()
                        .map_err(|_| format!("replicas `{text}` is not a whole number"))?;
                    if replicas > self.max_replicas {
                        return Err(format!(
                            "replicas {replicas} is above kubernetes.max_replicas {}",
                            self.max_replicas
                        ));
                    }
                    Some(replicas)
                }
                None => None,
            };
            return Ok(Spec::Kubernetes {
                operation: k8s.operation,
                kind: k8s.kind.clone(),
                namespace,
                name: workload,
                replicas,
            });
        }
        if let Some(email) = &action.email {
            return Ok(Spec::Email {
                to: email.to.clone(),
                subject: render("subject")?.replace(['\r', '\n'], " "),
                body: render("body")?,
            });
        }
        if let Some(chat) = &action.chat {
            return Ok(Spec::Chat {
                url: chat.url.clone(),
                payload: chat_payload(chat.format, &render("text")?),
            });
        }
        Err(format!("action `{name}` has no kind"))
    }
}

fn chat_payload(format: ChatFormat, text: &str) -> serde_json::Value {
    match format {
        ChatFormat::Slack | ChatFormat::Teams => json!({ "text": text }),
        ChatFormat::Discord => json!({ "content": text }),
    }
}

/// The template scope of one alert.
fn template_context(notification: &Notification, alert: &Alert) -> minijinja::Value {
    minijinja::Value::from_serialize(json!({
        "labels": alert.labels,
        "annotations": alert.annotations,
        "status": alert.status.as_str(),
        "fingerprint": alert.fingerprint,
        "startsAt": alert.starts_at,
        "endsAt": alert.ends_at,
        "generatorURL": alert.generator_url,
        "receiver": notification.receiver,
        "externalURL": notification.external_url,
        "groupKey": notification.group_key,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
    }))
}

/// `service-name` -> `SERVICE_NAME`.
fn env_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Kubernetes object names: lowercase alphanumerics, `-` and `.`, starting and ending alphanumeric.
fn check_dns_name(what: &str, value: &str, max: usize) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("{what} `{value}` is not a valid Kubernetes name"))
    }
}

impl KubernetesOperation {
    /// `rollout_restart` or `scale`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RolloutRestart => "rollout_restart",
            Self::Scale => "scale",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::parse;

    const CONFIG: &str = r#"
rules:
  - name: latency
    matchers: ['alertname="HighLatency"', 'service=~"checkout|cart"']
    actions: [remediate, restart, notify]
  - name: everything
    on: [firing, resolved]
    matchers: ['severity!="none"']
    actions: [notify]
actions:
  remediate:
    http:
      url: "http://127.0.0.1:9101/remediate"
      body: '{"service": "{{ labels.service }}"}'
      headers: {X-Alert: "{{ labels.alertname }}"}
    cooldown: 5m
    cooldown_key: "{{ labels.service }}"
  restart:
    command: {argv: [/usr/bin/systemctl, restart, "{{ labels.service }}.service"]}
  notify:
    chat: {url: "http://127.0.0.1:1/hook", format: discord, text: "{{ labels.alertname }} on {{ labels.service }} {{ labels.missing }}"}
"#;

    fn notification(service: &str) -> Notification {
        let text = crate::payload::tests_support::sample()
            .replace("\"checkout\"", &format!("{service:?}"));
        parse(text.as_bytes(), 10).expect("valid").notification
    }

    #[test]
    fn matching_alert_renders_every_action_of_every_matching_rule() {
        let rules = RuleSet::new(&Config::from_yaml(CONFIG).expect("config")).expect("rules");
        let n = notification("checkout");
        let jobs = rules.jobs_for(&n, &n.alerts[0], 42);
        let names: Vec<_> = jobs
            .iter()
            .map(|j| (j.rule.as_str(), j.action.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("latency", "remediate"),
                ("latency", "restart"),
                ("latency", "notify"),
                ("everything", "notify")
            ]
        );
        assert_eq!(jobs[0].dedup_key, "latency/remediate/c0ffee/42/firing");
        assert_eq!(jobs[0].target, "remediate/checkout");
        match &jobs[0].spec {
            Ok(Spec::Http {
                url, body, headers, ..
            }) => {
                assert_eq!(url, "http://127.0.0.1:9101/remediate");
                assert_eq!(body.as_deref(), Some(r#"{"service": "checkout"}"#));
                assert_eq!(headers["X-Alert"], "HighLatency");
            }
            other => panic!("{other:?}"),
        }
        match &jobs[1].spec {
            Ok(Spec::Command { argv, env }) => {
                assert_eq!(argv, &["/usr/bin/systemctl", "restart", "checkout.service"]);
                assert_eq!(env["OMEN_LABEL_SERVICE"], "checkout");
                assert_eq!(env["OMEN_ALERT_STATUS"], "firing");
            }
            other => panic!("{other:?}"),
        }
        match &jobs[2].spec {
            Ok(Spec::Chat { payload, .. }) => {
                assert_eq!(payload["content"], "HighLatency on checkout ");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsafe_command_arguments_fail_the_job_instead_of_running() {
        let rules = RuleSet::new(&Config::from_yaml(CONFIG).expect("config")).expect("rules");
        let n = notification("cart; rm -rf /");
        // `cart; rm -rf /` does not match `checkout|cart`, so only the catch-all rule applies.
        assert_eq!(rules.jobs_for(&n, &n.alerts[0], 1).len(), 1);
        let config = CONFIG.replace("checkout|cart", ".*");
        let rules = RuleSet::new(&Config::from_yaml(&config).expect("config")).expect("rules");
        let jobs = rules.jobs_for(&n, &n.alerts[0], 1);
        let error = jobs[1].spec.as_ref().expect_err("refused");
        assert!(error.contains("does not match arg_pattern"), "{error}");
    }

    #[test]
    fn template_syntax_errors_are_configuration_errors() {
        let config = CONFIG.replace("{{ labels.service }}.service", "{{ labels.service ");
        let error = RuleSet::new(&Config::from_yaml(&config).expect("config"))
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("action `restart`"), "{error}");
    }

    #[test]
    fn kubernetes_names_and_replicas_are_checked() {
        let config = r#"
kubernetes: {api_server: "http://127.0.0.1:1", max_replicas: 5}
rules: [{name: r, actions: [scale]}]
actions:
  scale:
    kubernetes: {operation: scale, namespace: "{{ labels.namespace }}", name: "{{ labels.service }}", replicas: "{{ labels.replicas }}"}
"#;
        let rules = RuleSet::new(&Config::from_yaml(config).expect("config")).expect("rules");
        let mut n = notification("checkout");
        let alert = &mut n.alerts[0];
        alert.labels.insert("namespace".into(), "shop".into());
        alert.labels.insert("replicas".into(), "3".into());
        let alert = alert.clone();
        match &rules.jobs_for(&n, &alert, 1)[0].spec {
            Ok(Spec::Kubernetes {
                replicas,
                namespace,
                ..
            }) => {
                assert_eq!((*replicas, namespace.as_str()), (Some(3), "shop"));
            }
            other => panic!("{other:?}"),
        }
        let mut too_many = alert.clone();
        too_many.labels.insert("replicas".into(), "9".into());
        let error = rules.jobs_for(&n, &too_many, 1)[0]
            .spec
            .clone()
            .expect_err("refused");
        assert!(error.contains("max_replicas"), "{error}");
        let mut bad_name = alert;
        bad_name.labels.insert("service".into(), "Check_Out".into());
        let error = rules.jobs_for(&n, &bad_name, 1)[0]
            .spec
            .clone()
            .expect_err("refused");
        assert!(error.contains("not a valid Kubernetes name"), "{error}");
    }
}
