//! Where a connector may connect, and the check every connection passes.
//!
//! 1. The manifest lists capabilities, destinations templated on configuration fields
//!    ([`Capability`]). Rendered with a datasource's configuration they become concrete
//!    [`Destination`]s.
//! 2. When an instance opens, the host resolves each destination's host itself, checks every
//!    address against the [`EgressPolicy`], and pins the result ([`Grants`]).
//! 3. The guest may then resolve only those host names (and gets the pinned addresses back),
//!    connect only to pinned addresses on granted ports, and send HTTP only to granted
//!    origins, whose addresses are checked again on every request (so DNS rebinding gets
//!    nowhere).
//!
//! Cloud metadata addresses are refused whatever the policy says. Loopback, private,
//! link-local and other special ranges are refused unless the policy allows them.

mod grants;
mod policy;

pub use grants::{Capability, Destination, Grants, Part, PinnedHost, apply_defaults};
pub use policy::{AddressClass, EgressPolicy, canonical, classify, metadata_covered_by};
