//! The files that build and ship the image agree with each other and with
//! the code: `deploy/Containerfile.prebuilt` is `deploy/Dockerfile`'s
//! runtime stage, both label the image with this version, `deploy/base`
//! installs this version, and the CI workflow (parsed as YAML) runs the
//! scripts that exist here: the test command, the kind end to end run and
//! the image for linux/amd64 and linux/arm64.

use std::{os::unix::fs::PermissionsExt, path::PathBuf};

use serde_json::Value;

fn path(relative: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative))
        .unwrap_or_else(|error| panic!("reading {relative}: {error}"))
}

/// The lines from the last `FROM` on, without comments and blank lines.
fn runtime_stage(relative: &str) -> Vec<String> {
    let text = read(relative);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .unwrap_or_else(|| panic!("{relative} has no FROM"));
    lines[start..]
        .iter()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| (*line).to_owned())
        .collect()
}

#[test]
fn the_prebuilt_containerfile_differs_from_the_dockerfile_only_in_where_the_binaries_come_from() {
    let dockerfile = runtime_stage("deploy/Dockerfile");
    let prebuilt = runtime_stage("deploy/Containerfile.prebuilt");
    assert_eq!(dockerfile[0], "FROM scratch");
    assert_eq!(
        dockerfile.len(),
        prebuilt.len(),
        "{dockerfile:#?}\n{prebuilt:#?}"
    );
    for (docker, built) in dockerfile.iter().zip(&prebuilt) {
        if docker.starts_with("COPY ") {
            assert_eq!(
                docker,
                "COPY --from=build /out/eshop /out/eshop-operator /usr/local/bin/"
            );
            assert_eq!(built, "COPY eshop eshop-operator /usr/local/bin/");
        } else {
            assert_eq!(docker, built);
        }
    }
    assert!(dockerfile.contains(&"USER 65532:65532".to_owned()));
}

#[test]
fn the_image_and_the_operators_install_carry_this_version() {
    let version = env!("CARGO_PKG_VERSION");
    for file in ["deploy/Dockerfile", "deploy/Containerfile.prebuilt"] {
        assert!(
            runtime_stage(file).contains(&format!("ARG VERSION={version}")),
            "{file} labels the image with version {version}"
        );
        let stage = runtime_stage(file).join("\n");
        for (label, value) in [
            ("source", env!("CARGO_PKG_REPOSITORY")),
            ("licenses", env!("CARGO_PKG_LICENSE")),
        ] {
            assert!(
                stage.contains(&format!(r#"org.opencontainers.image.{label}="{value}""#)),
                "{file} labels the image's {label} {value}"
            );
        }
    }
    let kustomization: Value =
        serde_saphyr::from_str(&read("deploy/base/kustomization.yaml")).expect("YAML");
    assert_eq!(kustomization["images"][0]["newTag"], version);
}

/// The steps of a job.
fn steps_of(job: &Value) -> impl Iterator<Item = &Value> {
    job["steps"].as_array().expect("every job has steps").iter()
}

fn runs_buildx(step: &Value) -> bool {
    step["run"]
        .as_str()
        .is_some_and(|run| run.contains("docker buildx build"))
}

/// Every step of every job of the workflow.
fn steps(workflow: &Value) -> Vec<&Value> {
    workflow["jobs"]
        .as_object()
        .expect("the workflow has jobs")
        .values()
        .flat_map(steps_of)
        .collect()
}

#[test]
fn the_ci_workflow_runs_the_test_command_the_kind_run_and_builds_for_amd64_and_arm64() {
    let workflow: Value =
        serde_saphyr::from_str(&read(".github/workflows/ci.yml")).expect("the workflow is YAML");
    assert!(
        workflow["on"].get("push").is_some(),
        "it runs on pushes: {}",
        workflow["on"]
    );
    let steps = steps(&workflow);
    let runs: Vec<&str> = steps
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect();
    assert!(
        runs.contains(&"bash .ci/run"),
        "a step runs the test command: {runs:#?}"
    );
    assert!(
        runs.contains(&"tests/e2e/kind-e2e"),
        "a step runs the kind end to end script: {runs:#?}"
    );
    let (name, image) = workflow["jobs"]
        .as_object()
        .expect("jobs")
        .iter()
        .find(|(_, job)| steps_of(job).any(runs_buildx))
        .expect("a job builds the image with docker buildx");
    let buildx = steps_of(image)
        .find(|step| runs_buildx(step))
        .and_then(|step| step["run"].as_str())
        .expect("the buildx step");
    assert!(
        buildx.contains("--platform ${{ matrix.platform }}"),
        "{buildx}"
    );
    assert!(buildx.contains("--file deploy/Dockerfile"), "{buildx}");
    let platforms: Vec<&str> = image["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap_or_else(|| panic!("job {name} has a matrix of platforms"))
        .iter()
        .filter_map(|entry| entry["platform"].as_str())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);

    for script in [".ci/run", "tests/e2e/kind-e2e"] {
        let mode = std::fs::metadata(path(script))
            .unwrap_or_else(|error| panic!("{script}: {error}"))
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{script} is executable");
    }
    for step in &steps {
        if let Some(action) = step["uses"].as_str() {
            let (_, version) = action
                .split_once('@')
                .unwrap_or_else(|| panic!("{action} is pinned to a version"));
            assert!(version.starts_with('v'), "{action} is pinned to a release");
        }
    }
}
