//! Identity: who is asking. SigV4 verification of ECR API requests
//! (`sigv4`), the server key that protects secrets at rest and signs
//! tokens (`server_key`), the `docker login` tokens that
//! GetAuthorizationToken hands out (`token`), and access-key generation
//! (`keys`); and what a caller may do: the IAM policy language, its
//! condition operators, AWS's evaluation logic and the managed policies for
//! ECR (`policy`). Knows nothing of HTTP frameworks or storage engines:
//! callers pass headers, look keys up and load policies.
#![forbid(unsafe_code)]

pub mod arn;
pub mod dates;
pub mod keys;
pub mod policy;
pub mod server_key;
pub mod session;
pub mod sigv4;
pub mod token;

pub use server_key::ServerKey;
