//! Why a testbed could not start, with the log lines that explain it.

use std::{io, path::PathBuf, time::Duration};

/// A failure to start the testbed.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error(
        "{} is not built: run tests/e2e/build-control-plane.sh (the test command does)",
        missing.display()
    )]
    NotBuilt { missing: PathBuf },

    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: io::Error,
    },

    #[error("generating certificates: {0}")]
    Certificates(#[from] rcgen::Error),

    #[error("starting {component}: {source}")]
    Spawn {
        component: &'static str,
        source: io::Error,
    },

    #[error("{component} exited ({status}); its last log lines:\n{log_tail}")]
    Exited {
        component: &'static str,
        status: String,
        log_tail: String,
    },

    #[error("{component}: no {what} after {waited:?}; its last log lines:\n{log_tail}")]
    NotReady {
        component: &'static str,
        what: &'static str,
        waited: Duration,
        log_tail: String,
    },

    #[error("reading the testbed's kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),

    #[error("talking to the testbed's API server: {0}")]
    Kube(#[from] kube::Error),
}

impl TestbedError {
    pub(crate) fn io(context: &'static str, source: io::Error) -> Self {
        Self::Io { context, source }
    }

    /// A process lost the race for a port chosen as free; a retry with fresh
    /// ports will do.
    pub(crate) fn is_port_conflict(&self) -> bool {
        matches!(self, Self::Exited { log_tail, .. } if log_tail.contains("address already in use"))
    }
}
