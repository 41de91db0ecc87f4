//! Picking the compute device by name (`kinema --device ...`): the Flex CPU backend always; the
//! GPU backends when kinema was built with their cargo feature (`cuda`, `wgpu`).

use burn::tensor::Device;

use crate::error::{ModelError, Result};

/// The device called `name`: `cpu` (burn Flex), `cuda` / `cuda:N` (feature `cuda`), `wgpu`
/// (feature `wgpu`: the best adapter wgpu finds). A backend that was not built in is an error
/// saying which feature to build with.
pub fn device_by_name(name: &str) -> Result<Device> {
    let (kind, index) = match name.split_once(':') {
        Some((k, i)) => {
            let i: usize = i.parse().map_err(|_| {
                ModelError::InvalidOption(format!("device {name:?}: the index after ':' must be a number"))
            })?;
            (k, Some(i))
        }
        None => (name, None),
    };
    match (kind, index) {
        ("cpu" | "flex", None | Some(0)) => Ok(Device::flex()),
        ("cuda", i) => cuda(i.unwrap_or(0), name),
        ("wgpu", None) => wgpu(name),
        _ => Err(ModelError::InvalidOption(format!(
            "device {name:?}: expected cpu, cuda, cuda:N or wgpu"
        ))),
    }
}

#[cfg(feature = "cuda")]
fn cuda(i: usize, _name: &str) -> Result<Device> {
    Ok(Device::cuda(i))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_i: usize, name: &str) -> Result<Device> {
    Err(ModelError::InvalidOption(format!(
        "device {name:?}: this kinema was built without CUDA (cargo build --release --features cuda)"
    )))
}

#[cfg(feature = "wgpu")]
fn wgpu(_name: &str) -> Result<Device> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(name: &str) -> Result<Device> {
    Err(ModelError::InvalidOption(format!(
        "device {name:?}: this kinema was built without wgpu (cargo build --release --features wgpu)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_devices_or_say_what_is_missing() {
        assert_eq!(device_by_name("cpu").unwrap(), Device::flex());
        assert_eq!(device_by_name("flex").unwrap(), Device::flex());
        let e = device_by_name("tpu").unwrap_err().to_string();
        assert!(e.contains("expected cpu, cuda"), "{e}");
        let e = device_by_name("cuda:x").unwrap_err().to_string();
        assert!(e.contains("must be a number"), "{e}");
        if !cfg!(feature = "cuda") {
            let e = device_by_name("cuda:1").unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
        if !cfg!(feature = "wgpu") {
            let e = device_by_name("wgpu").unwrap_err().to_string();
            assert!(e.contains("--features wgpu"), "{e}");
        }
    }
}
