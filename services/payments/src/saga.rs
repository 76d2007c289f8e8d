//! The checkout saga.
//!
//! Forward, in order: verify the user, read the cart, quote shipping (and
//! refuse with `price_changed` a total other than the one the customer
//! confirmed, before anything is reserved), reserve stock, charge, create
//! the order (committing the reservation first), clear the cart. The outcome of every step is saved before the next one
//! starts, under a lease, so a checkout whose process dies is picked up by
//! the recovery worker of any replica and continues where it was; every
//! downstream call is keyed by the checkout, so repeating a step that ran
//! but was not saved does nothing twice.
//!
//! A step that fails for good (a declined card, no stock, an empty cart)
//! turns the checkout to compensating: the charge is refunded and the stock
//! released, and the checkout ends failed with the reason the customer sees.
//! A step that fails for now (a service down) leaves the checkout running
//! for the recovery worker; past the checkout deadline it compensates too.

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;
use eshop_platform::client::CallError;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{Checkout, Failure, Status, Step},
    downstream::Downstream,
    store::CheckoutStore,
};

/// How a call to drive a checkout ended.
#[derive(Debug)]
pub enum Driven {
    /// Completed or failed.
    Finished(Checkout),
    /// Waiting for a service to come back; the recovery worker goes on.
    Stalled(Checkout),
    /// Another driver holds the checkout.
    Busy,
}

/// Why a step did not complete.
#[derive(Debug)]
enum StepError {
    /// For good: compensate and tell the customer.
    Final(Failure),
    /// For now: try again later.
    Transient(String),
}

impl From<CallError> for StepError {
    fn from(error: CallError) -> Self {
        Self::Transient(error.to_string())
    }
}

fn failure(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    field: Option<&str>,
) -> Failure {
    Failure {
        status: status.as_u16(),
        code: code.to_owned(),
        message: message.into(),
        field: field.map(str::to_owned),
    }
}

/// A 4xx answer is final, with what the service said; anything else is for now.
fn final_if_refused(error: CallError, status: StatusCode, field: Option<&str>) -> StepError {
    match &error {
        CallError::Status {
            status: answered,
            error: detail,
            ..
        } if answered.is_client_error() => {
            StepError::Final(failure(status, &detail.code, detail.message.clone(), field))
        }
        _ => error.into(),
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// What the saga counts.
#[derive(Debug, Clone, Default)]
pub struct SagaMetrics {
    checkouts: Family<OutcomeLabel, Counter>,
    refunds: Counter,
    releases: Counter,
}

impl SagaMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "payments_checkouts",
            "Checkouts that ended, by outcome (completed, or the failure code)",
            self.checkouts.clone(),
        );
        registry.register(
            "payments_refunds",
            "Refunds made while compensating, cancelling or returning",
            self.refunds.clone(),
        );
        registry.register(
            "payments_stock_releases",
            "Reservations released while compensating, cancelling or returning",
            self.releases.clone(),
        );
    }

    fn ended(&self, checkout: &Checkout) {
        let outcome = match &checkout.failure {
            Some(failure) => failure.code.clone(),
            None => "completed".to_owned(),
        };
        self.checkouts
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    pub fn refunded(&self) {
        self.refunds.inc();
    }

    pub fn released(&self) {
        self.releases.inc();
    }
}

/// Test and demo knob: stop the saga after this step's call returned and
/// before its outcome is saved, as if the process died right there.
pub type PauseAt = Option<Step>;

/// Drives checkouts.
pub struct Saga {
    pub store: Arc<dyn CheckoutStore>,
    pub downstream: Arc<dyn Downstream>,
    /// Who this process is; each drive adds an id of its own for its lease.
    pub owner: String,
    pub lease: Duration,
    /// How long a checkout may wait for a service before it compensates.
    pub deadline: Duration,
    pub pause_at: PauseAt,
    pub metrics: SagaMetrics,
}

impl std::fmt::Debug for Saga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saga")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Saga {
    /// Moves checkout `id` forward (or back) as far as it can go now.
    ///
    /// Each call holds a lease of its own, so a request handler and the
    /// recovery worker of the same process never drive one checkout at once.
    pub async fn drive(&self, id: Uuid) -> Result<Driven, sqlx::Error> {
        let owner = format!("{}/{}", self.owner, Uuid::new_v4());
        if !self.store.claim(id, &owner, self.lease).await? {
            return Ok(match self.store.get(id).await? {
                Some(checkout) if checkout.status.is_final() => Driven::Finished(checkout),
                _ => Driven::Busy,
            });
        }
        loop {
            let Some(mut checkout) = self.store.get(id).await? else {
                return Ok(Driven::Busy);
            };
            if checkout.status.is_final() {
                return Ok(Driven::Finished(checkout));
            }
            let moved = match checkout.status {
                Status::Running => self.forward(&mut checkout).await,
                _ => self.compensate(&mut checkout).await,
            };
            if let Err(reason) = moved {
                let overdue = OffsetDateTime::now_utc() - checkout.created_at > self.deadline;
                if checkout.status == Status::Running && overdue {
                    tracing::warn!(checkout = %id, reason, "checkout deadline passed; compensating");
                    checkout.status = Status::Compensating;
                    checkout.failure = Some(failure(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "a service the checkout needs did not answer in time; nothing was charged",
                        None,
                    ));
                } else {
                    tracing::warn!(checkout = %id, step = checkout.step.as_str(), reason, "checkout waits for a service");
                    self.store.pause(id, &owner, &reason).await?;
                    return Ok(Driven::Stalled(checkout));
                }
            }
            checkout.forget_card_number_when_done_with_it();
            if !self.store.save(&checkout, &owner, self.lease).await? {
                return Ok(Driven::Busy);
            }
            if checkout.status.is_final() {
                self.metrics.ended(&checkout);
                tracing::info!(checkout = %id, status = checkout.status.as_str(), "checkout ended");
            }
        }
    }

    /// Runs the next step and records its outcome in `checkout`.
    async fn forward(&self, checkout: &mut Checkout) -> Result<(), String> {
        let step = checkout.step;
        let outcome = self.run(step, checkout).await;
        if self.pause_at == Some(step) {
            tracing::warn!(checkout = %checkout.id, step = step.as_str(), "fault knob: paused after the step ran, before saving it");
            std::future::pending::<()>().await;
        }
        match outcome {
            Ok(()) => {
                checkout.step = step.next();
                if checkout.step == Step::Done {
                    checkout.status = Status::Completed;
                }
                Ok(())
            }
            Err(StepError::Final(failure)) => {
                tracing::info!(checkout = %checkout.id, step = step.as_str(), code = failure.code, "checkout failed; compensating");
                checkout.status = Status::Compensating;
                checkout.failure = Some(failure);
                Ok(())
            }
            Err(StepError::Transient(reason)) => Err(reason),
        }
    }

    async fn run(&self, step: Step, checkout: &mut Checkout) -> Result<(), StepError> {
        let (id, user) = (checkout.id, checkout.user_id);
        let downstream = &self.downstream;
        match step {
            Step::VerifyUser => {
                let found = downstream
                    .user(user)
                    .await
                    .map_err(|error| final_if_refused(error, StatusCode::FORBIDDEN, None))?;
                checkout.progress.user_email = Some(found.email);
            }
            Step::ReadCart => {
                let lines = downstream.cart(user).await?;
                if lines.is_empty() {
                    return Err(StepError::Final(failure(
                        StatusCode::CONFLICT,
                        "cart_empty",
                        "the cart is empty",
                        None,
                    )));
                }
                checkout.progress.lines = lines;
            }
            Step::ReserveStock => {
                downstream
                    .reserve(id, &checkout.progress.lines)
                    .await
                    .map_err(
                        |error| match final_if_refused(error, StatusCode::CONFLICT, None) {
                            StepError::Final(refused) => StepError::Final(failure(
                                StatusCode::CONFLICT,
                                "out_of_stock",
                                refused.message,
                                None,
                            )),
                            transient => transient,
                        },
                    )?;
                checkout.progress.reserved = true;
            }
            Step::QuoteShipping => {
                let weight = downstream.weight_grams(&checkout.progress.lines).await?;
                let shipping = downstream
                    .ship(id, &checkout.request.address, weight)
                    .await
                    .map_err(|error| {
                        final_if_refused(
                            error,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            Some("address.city_id"),
                        )
                    })?;
                checkout.progress.shipping = Some(shipping);
                let total = checkout.progress.total_cents();
                if let Some(confirmed) = checkout.request.expected_total_cents
                    && confirmed != total
                {
                    return Err(StepError::Final(failure(
                        StatusCode::CONFLICT,
                        "price_changed",
                        format!(
                            "the total is now {total} cents, not the {confirmed} cents confirmed: prices or shipping changed; check the new total and pay again"
                        ),
                        Some("expected_total_cents"),
                    )));
                }
            }
            Step::Charge => {
                let amount = checkout.progress.total_cents();
                let charged = downstream
                    .charge(id, user, amount, &checkout.request.payment)
                    .await;
                let charge = charged.map_err(|error| match &error {
                    CallError::Status {
                        status,
                        error: detail,
                        ..
                    } if *status == StatusCode::PAYMENT_REQUIRED => StepError::Final(failure(
                        status.to_owned(),
                        &detail.code,
                        detail.message.clone(),
                        Some("payment"),
                    )),
                    CallError::Status { error: detail, .. }
                        if detail.code == "processing_error" =>
                    {
                        StepError::Final(failure(
                            StatusCode::BAD_GATEWAY,
                            "processing_error",
                            "the card could not be processed; nothing was charged",
                            Some("payment"),
                        ))
                    }
                    _ => final_if_refused(
                        error,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("payment.card_number"),
                    ),
                })?;
                checkout.progress.charge_id = Some(charge);
            }
            Step::CreateOrder => {
                let charge = checkout
                    .progress
                    .charge_id
                    .expect("orders are created after the charge");
                downstream
                    .commit_reservation(id)
                    .await
                    .map_err(|error| final_if_refused(error, StatusCode::CONFLICT, None))?;
                let order = downstream
                    .create_order(checkout, charge)
                    .await
                    .map_err(|error| {
                        final_if_refused(error, StatusCode::INTERNAL_SERVER_ERROR, None)
                    })?;
                checkout.progress.order_id = Some(order);
            }
            Step::ClearCart => downstream.clear_cart(user).await?,
            Step::Done => {}
        }
        Ok(())
    }

    /// Gives back what a failed checkout took, then marks it failed.
    async fn compensate(&self, checkout: &mut Checkout) -> Result<(), String> {
        let progress = &mut checkout.progress;
        if let Some(charge) = progress.charge_id
            && !progress.refunded
        {
            self.downstream
                .refund(charge, progress.total_cents(), "compensation")
                .await
                .map_err(|error| error.to_string())?;
            progress.refunded = true;
            self.metrics.refunded();
        }
        // A reservation may have been taken by a call whose answer was lost;
        // releasing one that was never taken changes nothing.
        let may_hold_stock = progress.reserved || checkout.step >= Step::ReserveStock;
        if may_hold_stock && !progress.released {
            self.downstream
                .release_reservation(checkout.id)
                .await
                .map_err(|error| error.to_string())?;
            progress.released = true;
            self.metrics.released();
        }
        checkout.status = Status::Failed;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
