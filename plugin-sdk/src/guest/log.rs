//! Messages to the operator's log. The host tags them with the plugin and datasource,
//! truncates long ones and drops floods; never log secrets or row data.

use super::bindings::lathe::connector::log::{Level, log};

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}
