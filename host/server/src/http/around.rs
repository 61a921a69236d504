//! A step run around every call of a route, as a tower layer: what
//! `axum::middleware::from_fn` does, without boxing the route's service again for every
//! request and without extractors. The edge and the enforcement point are such steps.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service};

/// What runs around a route: it answers the request itself or passes it to `inner`. (Its
/// answer is a `Result` only so that the future goes into its box as it is, without being
/// moved into another one first: it holds the handler's, which can be large.)
pub trait Step: Clone + Send + Sync + 'static {
    fn around<S>(
        self,
        request: Request,
        inner: S,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send + 'static;
}

/// The layer that puts a [`Step`] around a service.
#[derive(Clone)]
pub struct Around<T>(pub T);

impl<T: Clone, S> Layer<S> for Around<T> {
    type Service = Wrapped<T, S>;

    fn layer(&self, inner: S) -> Wrapped<T, S> {
        Wrapped {
            inner,
            step: self.0.clone(),
        }
    }
}

/// A service with a [`Step`] around it.
#[derive(Clone)]
pub struct Wrapped<T, S> {
    inner: S,
    step: T,
}

impl<T, S> Service<Request> for Wrapped<T, S>
where
    T: Step,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was made ready takes this request; a clone waits for the next.
        let waiting = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, waiting);
        Box::pin(self.step.clone().around(request, ready))
    }
}
