//! The operator against a real control plane (the testbed): every test
//! runs the controller in-process, scoped to a namespace of its own that
//! enforces the restricted Pod Security Standard, and looks at the shop the
//! way a user would: through the API server.

mod support;

mod argocd;
mod changes;
mod credentials;
mod deletion;
mod drift;
mod edits;
mod examples;
mod leader;
mod life_stages;
mod many;
mod paused;
mod randomized;
mod rbac;
mod restart;
mod resync;
mod validation;
