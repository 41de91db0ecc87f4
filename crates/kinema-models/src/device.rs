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
fn cuda(i: usize, name: &str) -> Result<Device> {
    cuda_ready(i).map_err(|why| ModelError::InvalidOption(format!("device {name:?}: {why}")))?;
    Ok(Device::cuda(i))
}

/// Why `--device cuda` cannot run: NVRTC or the driver missing.
#[cfg(feature = "cuda")]
const NO_NVRTC: &str = "NVRTC (libnvrtc.so) could not be loaded: kinema compiles its CUDA kernels \
    with it at run time; install the CUDA toolkit's NVRTC or the nvidia-cuda-nvrtc wheel and put \
    its lib folder on LD_LIBRARY_PATH";

#[cfg(feature = "cuda")]
const NO_DRIVER: &str = "the CUDA driver (libcuda.so) could not be loaded: no NVIDIA driver is \
    installed here, or its folder is not on LD_LIBRARY_PATH";

/// Whether CUDA device `i` can run kinema's kernels: NVRTC compiles one, the driver loads and
/// has device `i`. cudarc opens both libraries on first use and panics when one is missing (and
/// cubecl would do it on its own thread, where the panic cannot be caught), so they are asked
/// here, once per process, with the panic caught and turned into the reason.
#[cfg(feature = "cuda")]
fn cuda_ready(i: usize) -> std::result::Result<(), String> {
    static COUNT: std::sync::OnceLock<std::result::Result<usize, String>> = std::sync::OnceLock::new();
    let count = COUNT.get_or_init(|| {
        // cudarc's panic is the answer here, not a crash: keep the default hook from printing it.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let nvrtc = std::panic::catch_unwind(|| {
            cudarc::nvrtc::compile_ptx("extern \"C\" __global__ void kinema_probe() {}").map(drop)
        });
        let driver = std::panic::catch_unwind(|| {
            cudarc::driver::result::init()?;
            cudarc::driver::result::device::get_count()
        });
        std::panic::set_hook(hook);
        match (nvrtc, driver) {
            (Err(_), _) => Err(NO_NVRTC.to_string()),
            (Ok(Err(e)), _) => Err(format!("NVRTC could not compile a test kernel: {e}")),
            (_, Err(_)) => Err(NO_DRIVER.to_string()),
            (_, Ok(Err(e))) => Err(format!("the CUDA driver found no usable device: {e}")),
            (_, Ok(Ok(n))) => Ok(n.max(0) as usize),
        }
    });
    match count {
        Err(why) => Err(why.clone()),
        Ok(n) if i >= *n => Err(format!("this machine has {n} CUDA device(s), numbered from 0")),
        Ok(_) => Ok(()),
    }
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
        // Built with CUDA: a device that cannot run (no driver, no NVRTC, no such index) is a
        // named error, not a panic; one that can is a device.
        if cfg!(feature = "cuda") {
            if let Err(e) = device_by_name("cuda:0") {
                let e = e.to_string();
                assert!(
                    e.contains("libcuda") || e.contains("NVRTC") || e.contains("CUDA device"),
                    "{e}"
                );
            }
            let e = device_by_name("cuda:4096").unwrap_err().to_string();
            assert!(e.contains("\"cuda:4096\""), "{e}");
        }
        if !cfg!(feature = "wgpu") {
            let e = device_by_name("wgpu").unwrap_err().to_string();
            assert!(e.contains("--features wgpu"), "{e}");
        }
    }
}
