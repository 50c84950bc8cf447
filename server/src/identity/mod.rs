//! Who is calling: admin passwords (and, with the identity issue, sessions and Entra tokens).

pub mod password;
