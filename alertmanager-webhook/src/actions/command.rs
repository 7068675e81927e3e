//! Command actions: a program started directly (no shell) with a clean environment.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use super::truncate;

/// Output kept in the audit trail, per stream.
const KEEP_OUTPUT: usize = 2048;

/// Runs `argv` and waits; exit status 0 is success. The caller's timeout kills the child
/// (`kill_on_drop`).
pub(super) async fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    working_dir: Option<&Path>,
) -> Result<String, String> {
    let (program, args) = argv.split_first().ok_or("empty argv")?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = working_dir {
        command.current_dir(dir);
    }
    let output = command
        .output()
        .await
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let stdout = truncate(String::from_utf8_lossy(&output.stdout).trim(), KEEP_OUTPUT);
    let stderr = truncate(String::from_utf8_lossy(&output.stderr).trim(), KEEP_OUTPUT);
    if output.status.success() {
        Ok(format!("exit 0; stdout: {stdout}"))
    } else {
        Err(format!(
            "{}; stderr: {stderr}; stdout: {stdout}",
            output.status
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arguments_reach_the_program_verbatim_without_a_shell() {
        let argv = vec![
            "printf".to_owned(),
            "%s|".to_owned(),
            "$(id); `x`".to_owned(),
        ];
        let env = BTreeMap::from([("OMEN_LABEL_SERVICE".to_owned(), "checkout".to_owned())]);
        let out = run(&argv, &env, None).await.expect("runs");
        assert_eq!(out, "exit 0; stdout: $(id); `x`|");
        let printenv = vec!["printenv".to_owned(), "OMEN_LABEL_SERVICE".to_owned()];
        assert_eq!(
            run(&printenv, &env, None).await.expect("runs"),
            "exit 0; stdout: checkout"
        );
        // The parent's environment is not passed on.
        let home = vec!["printenv".to_owned(), "HOME".to_owned()];
        assert!(run(&home, &env, None).await.is_err());
    }

    #[tokio::test]
    async fn failures_report_status_and_stderr() {
        let argv = vec!["ls".to_owned(), "/definitely/not/here".to_owned()];
        let error = run(&argv, &BTreeMap::new(), None).await.expect_err("fails");
        assert!(
            error.contains("exit status") && error.contains("No such file"),
            "{error}"
        );
        let missing = vec!["/no/such/program".to_owned()];
        let error = run(&missing, &BTreeMap::new(), None)
            .await
            .expect_err("fails");
        assert!(error.contains("cannot start"), "{error}");
    }
}
