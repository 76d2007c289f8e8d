//! The testbed's processes: each with a log file in the testbed's directory,
//! all stopped together, and a guardian that cleans up when this process dies
//! without stopping them.
//!
//! A test binary keeps one shared testbed in a `static`, and statics are never
//! dropped; a test run may also be interrupted or killed. So every testbed has
//! a guardian: a small shell that reads the pids of the testbed's processes on
//! its stdin. When that stdin reaches end of file without a `release` line,
//! this process is gone, however it died, and the guardian kills the pids and
//! removes the directory. A normal stop kills and reaps the processes itself,
//! then releases the guardian.

use std::{
    ffi::OsString,
    fs::File,
    io::{self, Read, Seek, SeekFrom, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
};

use crate::TestbedError;

const GUARDIAN: &str = r#"
pids=
while read -r line; do
  [ "$line" = release ] && exit 0
  pids="$pids $line"
done
[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
rm -rf -- "$1"
"#;

/// The running processes of one testbed.
#[derive(Debug)]
pub(crate) struct Processes {
    log_dir: PathBuf,
    running: Vec<Running>,
    guardian: Child,
    guardian_stdin: Option<ChildStdin>,
}

#[derive(Debug)]
struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Processes {
    /// Starts the guardian of `dir`; processes log to `dir/logs/`.
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        let log_dir = dir.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let mut guardian = Command::new("sh")
            .args(["-c", GUARDIAN, "eshop-testbed-guardian"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C in the terminal must not kill
            // the guardian before it has cleaned up.
            .process_group(0)
            .spawn()?;
        let guardian_stdin = guardian.stdin.take();
        Ok(Self {
            log_dir,
            running: Vec::new(),
            guardian,
            guardian_stdin,
        })
    }

    /// Starts `program`, logging to `logs/<name>.log`.
    pub(crate) fn spawn(
        &mut self,
        name: &'static str,
        program: &Path,
        args: Vec<OsString>,
    ) -> Result<(), TestbedError> {
        let log = self.log_dir.join(format!("{name}.log"));
        let spawned = File::create(&log).and_then(|out| {
            let err = out.try_clone()?;
            Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
        });
        let child = spawned.map_err(|source| TestbedError::Spawn {
            component: name,
            source,
        })?;
        if let Some(stdin) = self.guardian_stdin.as_mut() {
            // If the guardian is gone it cannot help; the normal stop still works.
            let _ = writeln!(stdin, "{}", child.id());
        }
        self.running.push(Running { name, child, log });
        Ok(())
    }

    /// Fails with the component's log when one of the processes has exited.
    pub(crate) fn ensure_running(&mut self) -> Result<(), TestbedError> {
        for running in &mut self.running {
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(TestbedError::Exited {
                    component: running.name,
                    status: status.to_string(),
                    log_tail: log_tail(&running.log),
                });
            }
        }
        Ok(())
    }

    /// The last lines that `component` logged, for error messages.
    pub(crate) fn log_tail(&self, component: &str) -> String {
        self.running
            .iter()
            .find(|running| running.name == component)
            .map(|running| log_tail(&running.log))
            .unwrap_or_default()
    }

    /// Kills and reaps every process, newest first.
    pub(crate) fn stop_all(&mut self) {
        for mut running in self.running.drain(..).rev() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_all();
        if let Some(mut stdin) = self.guardian_stdin.take() {
            let _ = writeln!(stdin, "release");
        }
        let _ = self.guardian.wait();
    }
}

/// The last 20 lines of a log file, at most 4 KiB.
fn log_tail(path: &Path) -> String {
    const MAX_BYTES: u64 = 4096;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |meta| meta.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
