//! What a kubelet makes of a pod's container before it starts it, so that
//! podman runs what a Deployment says: the env with Secret references,
//! field references and `$(VAR)` expanded, and the command, user, security
//! context and emptyDir mounts as `podman run` options.
//!
//! Anything in a pod spec that this translation does not know is a panic,
//! never silently left out.

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Secret};

/// How podman runs one container: everything but the image and the env.
#[derive(Debug, Clone, Default)]
pub(crate) struct Launch {
    /// `podman run` options.
    pub(crate) options: Vec<String>,
    /// The arguments after the image.
    pub(crate) args: Vec<String>,
}

/// `container` of `pod` as `podman run` options: the command as the
/// entrypoint, the pod's or container's user, a read-only root without
/// podman's own tmpfs mounts, dropped and added capabilities, no privilege
/// escalation, and each emptyDir mount as a tmpfs.
pub(crate) fn launch(pod: &PodSpec, container: &Container) -> Launch {
    let pod_context = pod.security_context.clone().unwrap_or_default();
    let context = container.security_context.clone().unwrap_or_default();
    let user = context
        .run_as_user
        .or(pod_context.run_as_user)
        .unwrap_or_else(|| panic!("{} names no user to run as", container.name));
    let group = context
        .run_as_group
        .or(pod_context.run_as_group)
        .unwrap_or(user);
    if context.run_as_non_root.or(pod_context.run_as_non_root) == Some(true) {
        assert_ne!(user, 0, "{} must run as non-root", container.name);
    }
    let mut options = vec![format!("--user={user}:{group}")];
    if let Some(command) = &container.command {
        options.push(format!(
            "--entrypoint={}",
            serde_json::to_string(command).expect("a command serializes")
        ));
    }
    if context.read_only_root_filesystem == Some(true) {
        options.extend([
            "--read-only".to_owned(),
            "--read-only-tmpfs=false".to_owned(),
        ]);
    }
    if context.allow_privilege_escalation == Some(false) {
        options.push("--security-opt=no-new-privileges".to_owned());
    }
    let capabilities = context.capabilities.unwrap_or_default();
    for capability in capabilities.drop.iter().flatten() {
        options.push(format!("--cap-drop={capability}"));
    }
    for capability in capabilities.add.iter().flatten() {
        options.push(format!("--cap-add={capability}"));
    }
    for mount in container.volume_mounts.iter().flatten() {
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|volume| volume.name == mount.name)
            .unwrap_or_else(|| panic!("{} mounts a volume the pod lacks", container.name));
        assert!(
            volume.empty_dir.is_some(),
            "only emptyDir volumes run here; {} is another kind",
            volume.name
        );
        options.push(format!("--tmpfs={}:mode=1777", mount.mount_path));
    }
    Launch {
        options,
        args: container.args.clone().unwrap_or_default(),
    }
}

/// The container's env as the process would see it: values from Secrets
/// looked up in `secrets`, field references answered by `field`, and
/// `$(VAR)` expanded from variables declared before.
pub(crate) fn resolve_env(
    env: &[EnvVar],
    secrets: &[Secret],
    field: impl Fn(&str) -> String,
) -> Vec<(String, String)> {
    let mut resolved: Vec<(String, String)> = Vec::new();
    for var in env {
        let value = match &var.value_from {
            None => {
                let mut value = var.value.clone().unwrap_or_default();
                for (name, earlier) in &resolved {
                    value = value.replace(&format!("$({name})"), earlier);
                }
                value
            }
            Some(source) => {
                if let Some(reference) = &source.secret_key_ref {
                    let secret = secrets
                        .iter()
                        .find(|secret| secret.metadata.name.as_deref() == Some(&reference.name))
                        .unwrap_or_else(|| {
                            panic!(
                                "{} refers to a Secret {} that does not exist",
                                var.name, reference.name
                            )
                        });
                    let bytes = secret
                        .data
                        .as_ref()
                        .and_then(|data| data.get(&reference.key))
                        .unwrap_or_else(|| {
                            panic!("Secret {} has no key {}", reference.name, reference.key)
                        });
                    String::from_utf8(bytes.0.clone()).expect("Secret values are text")
                } else if let Some(reference) = &source.field_ref {
                    field(&reference.field_path)
                } else {
                    panic!("{} takes its value from a source not run here", var.name)
                }
            }
        };
        resolved.push((var.name.clone(), value));
    }
    resolved
}

/// Sets `name` in `env` to `value`, where it is set.
pub(crate) fn replace(env: &mut [(String, String)], name: &str, value: &str) {
    for (_, entry) in env.iter_mut().filter(|(entry, _)| entry == name) {
        value.clone_into(entry);
    }
}
