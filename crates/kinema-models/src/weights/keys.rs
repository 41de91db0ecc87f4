//! How weight files name kinema's parameter paths: the renaming shared by every family
//! (PyTorch's BatchNorm names, the aliased copies of GluonCV's PyTorch port); a family's own
//! rules live in its file ([`crate::arch::Architecture`]).

use std::collections::HashSet;

use super::NamedTensor;

/// How a weight file names a kinema parameter path.
pub type KeyFn = fn(&str) -> String;

/// PyTorch's name of a kinema parameter path: burn's BatchNorm keeps `gamma`/`beta` where
/// PyTorch's has `weight`/`bias` (the only parameters burn names so).
pub fn pytorch_name(path: &str) -> String {
    if let Some(p) = path.strip_suffix(".gamma") {
        format!("{p}.weight")
    } else if let Some(p) = path.strip_suffix(".beta") {
        format!("{p}.bias")
    } else {
        path.to_string()
    }
}

/// GluonCV's PyTorch port saves some modules twice, under a second path that shares the
/// tensors: I3D's `head.1` (the classifier inside its dropout-and-fc `head`) and the non-local
/// block's `W_bn` (`W` and `bn` again). The copies are dropped when the original is there, so a
/// fine-tuned classifier does not leave the old one behind as an unused entry.
pub fn drop_torch_aliases(tensors: &mut Vec<NamedTensor>) {
    let names: HashSet<String> = tensors.iter().map(|t| t.name.clone()).collect();
    let original = |name: &str| -> Option<String> {
        if let Some(rest) = name.strip_prefix("head.1.") {
            return Some(format!("fc.{rest}"));
        }
        let (block, rest) = name.split_once(".nonlocal_block.W_bn.")?;
        let (which, leaf) = rest.split_once('.')?;
        let module = match which {
            "0" => "W",
            "1" => "bn",
            _ => return None,
        };
        Some(format!("{block}.nonlocal_block.{module}.{leaf}"))
    };
    tensors.retain(|t| original(&t.name).is_none_or(|o| !names.contains(&o)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gluoncv_torch_port_aliases_are_dropped_when_the_original_is_there() {
        let t = |name: &str| NamedTensor {
            name: name.into(),
            shape: vec![1],
            data: vec![0.0],
        };
        let mut ts: Vec<NamedTensor> = [
            "fc.weight",
            "fc.bias",
            "head.1.weight",
            "head.1.bias",
            "res_layers.1.1.nonlocal_block.W.weight",
            "res_layers.1.1.nonlocal_block.W_bn.0.weight",
            "res_layers.1.1.nonlocal_block.bn.running_var",
            "res_layers.1.1.nonlocal_block.W_bn.1.running_var",
            // No original beside it: kept, so the loader reports it.
            "res_layers.2.0.nonlocal_block.W_bn.1.bias",
        ]
        .map(t)
        .into();
        drop_torch_aliases(&mut ts);
        let left: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            left,
            [
                "fc.weight",
                "fc.bias",
                "res_layers.1.1.nonlocal_block.W.weight",
                "res_layers.1.1.nonlocal_block.bn.running_var",
                "res_layers.2.0.nonlocal_block.W_bn.1.bias",
            ]
        );
        assert_eq!(pytorch_name("bn1.gamma"), "bn1.weight");
        assert_eq!(pytorch_name("bn1.beta"), "bn1.bias");
        assert_eq!(pytorch_name("conv1.weight"), "conv1.weight");
    }
}
