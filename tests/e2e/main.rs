//! End-to-end tests against a real `studio serve` (embedded), over real
//! HTTP and a real graphql-transport-ws WebSocket.

mod support;

mod audit;
mod embed;
mod flow;
mod graph;
mod hostile;
mod legacy;
mod operations;
mod processing;
mod restart;
mod roles;
mod search;
mod tenancy;
