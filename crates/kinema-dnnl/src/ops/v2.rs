//! The oneDNN 2.x bodies of [`super`]: operation descriptors, then primitive descriptors;
//! memory descriptors are plain structs.

use std::ptr;

use super::{ConvParams, PoolAlg, PoolParams};
use crate::raw::{bindings as b, lib};
use crate::{check, dims_of, tag, Attr, DataType, DnnlError, Engine, Layout, PrimitiveDesc, Result};

/// A memory descriptor: dimensions, data type and layout.
#[derive(Clone)]
pub struct MemoryDesc(b::dnnl_memory_desc_t);

// SAFETY: a memory descriptor is plain data in the 2.x API.
unsafe impl Send for MemoryDesc {}
// SAFETY: as above.
unsafe impl Sync for MemoryDesc {}

impl std::fmt::Debug for MemoryDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryDesc({:?}, {})", self.dims(), self.layout_name())
    }
}

impl MemoryDesc {
    /// `dims` of `dt` in `layout`.
    pub fn new(dims: &[usize], dt: DataType, layout: Layout) -> Result<MemoryDesc> {
        let l = lib()?;
        let d = dims_of(dims)?;
        // SAFETY: all-zero is a valid (empty) descriptor for the init call to fill in.
        let mut md: b::dnnl_memory_desc_t = unsafe { std::mem::zeroed() };
        check(
            // SAFETY: md is a local, d holds dims.len() values.
            unsafe {
                l.dnnl_memory_desc_init_by_tag(
                    &mut md,
                    dims.len() as i32,
                    d.as_ptr(),
                    dt.raw(),
                    tag(layout, dims.len())?,
                )
            },
            "dnnl_memory_desc_init_by_tag",
        )?;
        Ok(MemoryDesc(md))
    }

    /// `dims` of `dt` with explicit element `strides` (a view: transposed, sub-sampled).
    pub fn strided(dims: &[usize], dt: DataType, strides: &[usize]) -> Result<MemoryDesc> {
        if strides.len() != dims.len() {
            return Err(DnnlError::Invalid(format!(
                "{} strides for {} dimensions",
                strides.len(),
                dims.len()
            )));
        }
        let l = lib()?;
        let d = dims_of(dims)?;
        let s = dims_of(strides)?;
        // SAFETY: all-zero is a valid (empty) descriptor for the init call to fill in.
        let mut md: b::dnnl_memory_desc_t = unsafe { std::mem::zeroed() };
        check(
            // SAFETY: md is a local; d and s hold dims.len() values.
            unsafe {
                l.dnnl_memory_desc_init_by_strides(
                    &mut md,
                    dims.len() as i32,
                    d.as_ptr(),
                    dt.raw(),
                    s.as_ptr(),
                )
            },
            "dnnl_memory_desc_init_by_strides",
        )?;
        Ok(MemoryDesc(md))
    }

    /// The dimensions.
    pub fn dims(&self) -> Vec<usize> {
        self.0.dims[..self.0.ndims as usize]
            .iter()
            .map(|&d| d as usize)
            .collect()
    }

    /// Bytes a buffer of this descriptor needs (padding of blocked layouts included).
    pub fn size_bytes(&self) -> usize {
        match lib() {
            // SAFETY: the descriptor is valid.
            Ok(l) => unsafe { l.dnnl_memory_desc_get_size(&self.0) },
            Err(_) => 0,
        }
    }

    /// Bytes from a buffer's start to one past the last value this descriptor reaches: its
    /// size for dense layouts, less for a strided view whose strides span a larger tensor.
    pub fn extent_bytes(&self) -> usize {
        let Ok(l) = lib() else { return 0 };
        if self.0.format_kind != b::dnnl_blocked {
            return self.size_bytes();
        }
        // SAFETY: format_kind says the union holds the blocking description.
        let blk = unsafe { &self.0.format_desc.blocking };
        if blk.inner_nblks != 0 {
            return self.size_bytes();
        }
        let n = self.0.ndims as usize;
        if (0..n).any(|d| self.0.padded_dims[d] == 0) {
            return 0;
        }
        let last: i64 = (0..n)
            .map(|d| (self.0.padded_dims[d] - 1) * blk.strides[d])
            .sum::<i64>()
            + 1
            + self.0.offset0;
        // SAFETY: a plain query on a data type.
        let elem = unsafe { l.dnnl_data_type_size(self.0.data_type) };
        last as usize * elem
    }

    /// Whether this is the plain row-major layout of its dimensions (what kinema's tensors are).
    pub fn is_plain(&self) -> bool {
        MemoryDesc::new(&self.dims(), DataType::F32, Layout::Plain).is_ok_and(|p| p == *self)
    }

    /// A short description of the layout (`plain`, `blocked`, ...), for logs.
    pub fn layout_name(&self) -> String {
        if self.0.format_kind != b::dnnl_blocked {
            return format!("format kind {}", self.0.format_kind);
        }
        // SAFETY: format_kind says the union holds the blocking description.
        let blk = unsafe { &self.0.format_desc.blocking };
        let inner: Vec<String> = (0..blk.inner_nblks as usize)
            .map(|i| {
                format!(
                    "{}{}",
                    blk.inner_blks[i],
                    (b'a' + blk.inner_idxs[i] as u8) as char
                )
            })
            .collect();
        if inner.is_empty() {
            "strided".into()
        } else {
            format!("blocked {}", inner.join(""))
        }
    }

    pub(crate) fn as_raw(&self) -> *const b::dnnl_memory_desc_t {
        &self.0
    }
}

impl PartialEq for MemoryDesc {
    fn eq(&self, other: &MemoryDesc) -> bool {
        match lib() {
            // SAFETY: both descriptors are valid.
            Ok(l) => unsafe { l.dnnl_memory_desc_equal(&self.0, &other.0) != 0 },
            Err(_) => false,
        }
    }
}

pub(crate) fn query_md(
    pd: b::dnnl_primitive_desc_t,
    what: b::dnnl_query_t,
    index: i32,
) -> Result<MemoryDesc> {
    let l = lib()?;
    // SAFETY: pd is alive; the result points into it (copied out at once) or is null.
    let p = unsafe { l.dnnl_primitive_desc_query_md(pd, what, index) };
    if p.is_null() {
        return Err(DnnlError::Invalid("the primitive has no such memory".into()));
    }
    // SAFETY: non-null, points to a descriptor owned by pd.
    Ok(MemoryDesc(unsafe { *p }))
}

pub(crate) fn append_sum(l: &b::DnnlLib, po: b::dnnl_post_ops_t, scale: f32) -> Result<()> {
    check(
        // SAFETY: po is alive.
        unsafe { l.dnnl_post_ops_append_sum(po, scale) },
        "dnnl_post_ops_append_sum",
    )
}

pub(crate) fn append_eltwise(
    l: &b::DnnlLib,
    po: b::dnnl_post_ops_t,
    alg: b::dnnl_alg_kind_t,
    alpha: f32,
) -> Result<()> {
    check(
        // SAFETY: po is alive.
        unsafe { l.dnnl_post_ops_append_eltwise(po, 1.0, alg, alpha, 0.0) },
        "dnnl_post_ops_append_eltwise",
    )
}

/// The primitive descriptor of the operation descriptor `desc` (2.x: op desc, then pd); a
/// backward operation takes its forward primitive descriptor as `hint`.
fn create<D>(
    desc: &D,
    attr: Option<&Attr>,
    engine: &Engine,
    hint: Option<&PrimitiveDesc>,
    call: &'static str,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: desc is an initialised operation descriptor of the kind the call expects; attr,
        // engine and hint are alive (a null attr means the defaults, a null hint none).
        unsafe {
            l.dnnl_primitive_desc_create(
                &mut raw,
                desc as *const D as b::const_dnnl_op_desc_t,
                attr.map_or(ptr::null(), |a| a.raw as *const _),
                engine.raw,
                hint.map_or(ptr::null(), |h| h.raw as *const _),
            )
        },
        call,
    )?;
    Ok(PrimitiveDesc { raw })
}

fn zeroed<T>() -> T {
    // SAFETY: used only for oneDNN's plain-data operation descriptors, which their init calls fill in.
    unsafe { std::mem::zeroed() }
}

/// A forward-inference convolution.
pub fn convolution_forward(
    engine: &Engine,
    p: &ConvParams<'_>,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    conv_forward(engine, p, attr, b::dnnl_forward_inference)
}

/// A forward-training convolution: the hint its backward passes are made from.
pub fn convolution_forward_training(
    engine: &Engine,
    p: &ConvParams<'_>,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    conv_forward(engine, p, attr, b::dnnl_forward_training)
}

fn conv_forward(
    engine: &Engine,
    p: &ConvParams<'_>,
    attr: Option<&Attr>,
    prop: b::dnnl_prop_kind_t,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let g = geometry(p)?;
    let mut desc: b::dnnl_convolution_desc_t = zeroed();
    check(
        // SAFETY: desc is a local; every descriptor is valid; the dims arrays hold one value per
        // spatial dimension.
        unsafe {
            l.dnnl_dilated_convolution_forward_desc_init(
                &mut desc,
                prop,
                b::dnnl_convolution_direct,
                p.src.as_raw(),
                p.weights.as_raw(),
                p.bias.map_or(ptr::null(), |m| m.as_raw()),
                p.dst.as_raw(),
                g[0].as_ptr(),
                g[1].as_ptr(),
                g[2].as_ptr(),
                g[3].as_ptr(),
            )
        },
        "dnnl_dilated_convolution_forward_desc_init",
    )?;
    create(
        &desc,
        attr,
        engine,
        None,
        "dnnl_primitive_desc_create (convolution)",
    )
}

/// A convolution's gradient with respect to its source: `p.src` is the source gradient's
/// descriptor, `p.dst` the destination gradient's; `hint` is the forward-training descriptor.
pub fn convolution_backward_data(
    engine: &Engine,
    p: &ConvParams<'_>,
    hint: &PrimitiveDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let g = geometry(p)?;
    let mut desc: b::dnnl_convolution_desc_t = zeroed();
    check(
        // SAFETY: as in conv_forward.
        unsafe {
            l.dnnl_dilated_convolution_backward_data_desc_init(
                &mut desc,
                b::dnnl_convolution_direct,
                p.src.as_raw(),
                p.weights.as_raw(),
                p.dst.as_raw(),
                g[0].as_ptr(),
                g[1].as_ptr(),
                g[2].as_ptr(),
                g[3].as_ptr(),
            )
        },
        "dnnl_dilated_convolution_backward_data_desc_init",
    )?;
    create(
        &desc,
        attr,
        engine,
        Some(hint),
        "dnnl_primitive_desc_create (convolution backward data)",
    )
}

/// A convolution's gradient with respect to its weights (and bias): `p.weights` and `p.bias`
/// are the gradients' descriptors, `p.dst` the destination gradient's; `hint` as above.
pub fn convolution_backward_weights(
    engine: &Engine,
    p: &ConvParams<'_>,
    hint: &PrimitiveDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let g = geometry(p)?;
    let mut desc: b::dnnl_convolution_desc_t = zeroed();
    check(
        // SAFETY: as in conv_forward.
        unsafe {
            l.dnnl_dilated_convolution_backward_weights_desc_init(
                &mut desc,
                b::dnnl_convolution_direct,
                p.src.as_raw(),
                p.weights.as_raw(),
                p.bias.map_or(ptr::null(), |m| m.as_raw()),
                p.dst.as_raw(),
                g[0].as_ptr(),
                g[1].as_ptr(),
                g[2].as_ptr(),
                g[3].as_ptr(),
            )
        },
        "dnnl_dilated_convolution_backward_weights_desc_init",
    )?;
    create(
        &desc,
        attr,
        engine,
        Some(hint),
        "dnnl_primitive_desc_create (convolution backward weights)",
    )
}

/// Strides, dilations (oneDNN counts 0 as none), padding before and after, as oneDNN's dims.
fn geometry(p: &ConvParams<'_>) -> Result<[b::dnnl_dims_t; 4]> {
    let dil: Vec<usize> = p.dilation.iter().map(|&d| d.saturating_sub(1)).collect();
    Ok([
        dims_of(p.strides)?,
        dims_of(&dil)?,
        dims_of(p.pad_l)?,
        dims_of(p.pad_r)?,
    ])
}

/// A forward-inference pooling from `src` to `dst`.
pub fn pooling_forward(
    engine: &Engine,
    src: &MemoryDesc,
    dst: &MemoryDesc,
    p: &PoolParams<'_>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let alg = match p.alg {
        PoolAlg::Max => b::dnnl_pooling_max,
        PoolAlg::AvgIncludePad => b::dnnl_pooling_avg_include_padding,
        PoolAlg::AvgExcludePad => b::dnnl_pooling_avg_exclude_padding,
    };
    let zeros = vec![0; p.kernel.len()];
    let mut desc: b::dnnl_pooling_v2_desc_t = zeroed();
    check(
        // SAFETY: desc is a local; descriptors valid; one value per spatial dimension.
        unsafe {
            l.dnnl_pooling_v2_forward_desc_init(
                &mut desc,
                b::dnnl_forward_inference,
                alg,
                src.as_raw(),
                dst.as_raw(),
                dims_of(p.strides)?.as_ptr(),
                dims_of(p.kernel)?.as_ptr(),
                dims_of(&zeros)?.as_ptr(),
                dims_of(p.pad_l)?.as_ptr(),
                dims_of(p.pad_r)?.as_ptr(),
            )
        },
        "dnnl_pooling_v2_forward_desc_init",
    )?;
    create(&desc, None, engine, None, "dnnl_primitive_desc_create (pooling)")
}

/// An element-wise ReLU over `data` (in place or not: source and destination share `data`).
pub fn eltwise_forward(engine: &Engine, data: &MemoryDesc) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut desc: b::dnnl_eltwise_desc_t = zeroed();
    check(
        // SAFETY: desc is a local; data is valid.
        unsafe {
            l.dnnl_eltwise_forward_desc_init(
                &mut desc,
                b::dnnl_forward_inference,
                b::dnnl_eltwise_relu,
                data.as_raw(),
                0.0,
                0.0,
            )
        },
        "dnnl_eltwise_forward_desc_init",
    )?;
    create(&desc, None, engine, None, "dnnl_primitive_desc_create (eltwise)")
}

/// A forward-inference inner product (`src` of rank 2 to 5, `weights` `[O, src dims but N]`).
pub fn inner_product_forward(
    engine: &Engine,
    src: &MemoryDesc,
    weights: &MemoryDesc,
    bias: Option<&MemoryDesc>,
    dst: &MemoryDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut desc: b::dnnl_inner_product_desc_t = zeroed();
    check(
        // SAFETY: desc is a local; descriptors valid.
        unsafe {
            l.dnnl_inner_product_forward_desc_init(
                &mut desc,
                b::dnnl_forward_inference,
                src.as_raw(),
                weights.as_raw(),
                bias.map_or(ptr::null(), |m| m.as_raw()),
                dst.as_raw(),
            )
        },
        "dnnl_inner_product_forward_desc_init",
    )?;
    create(
        &desc,
        attr,
        engine,
        None,
        "dnnl_primitive_desc_create (inner product)",
    )
}

/// A batched matrix product `dst = src x weights` (strided descriptors for transposes).
pub fn matmul(
    engine: &Engine,
    src: &MemoryDesc,
    weights: &MemoryDesc,
    dst: &MemoryDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut desc: b::dnnl_matmul_desc_t = zeroed();
    check(
        // SAFETY: desc is a local; descriptors valid; no bias.
        unsafe {
            l.dnnl_matmul_desc_init(
                &mut desc,
                src.as_raw(),
                weights.as_raw(),
                ptr::null(),
                dst.as_raw(),
            )
        },
        "dnnl_matmul_desc_init",
    )?;
    create(&desc, attr, engine, None, "dnnl_primitive_desc_create (matmul)")
}

/// A softmax over `axis` of `data` (in place).
pub fn softmax_forward(engine: &Engine, data: &MemoryDesc, axis: usize) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut desc: b::dnnl_softmax_desc_t = zeroed();
    check(
        // SAFETY: desc is a local; data valid.
        unsafe {
            l.dnnl_softmax_forward_desc_init(&mut desc, b::dnnl_forward_inference, data.as_raw(), axis as i32)
        },
        "dnnl_softmax_forward_desc_init",
    )?;
    create(&desc, None, engine, None, "dnnl_primitive_desc_create (softmax)")
}

/// A concatenation of `srcs` along `axis`; `dst` `None` lets oneDNN pick its layout.
pub fn concat(
    engine: &Engine,
    dst: Option<&MemoryDesc>,
    axis: usize,
    srcs: &[MemoryDesc],
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let raws: Vec<b::dnnl_memory_desc_t> = srcs.iter().map(|m| m.0).collect();
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: raws holds srcs.len() valid descriptors; dst is valid or null; engine alive.
        unsafe {
            l.dnnl_concat_primitive_desc_create(
                &mut raw,
                dst.map_or(ptr::null(), |m| m.as_raw()),
                raws.len() as i32,
                axis as i32,
                raws.as_ptr(),
                ptr::null(),
                engine.raw,
            )
        },
        "dnnl_concat_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A copy from `src`'s layout to `dst`'s.
pub fn reorder(engine: &Engine, src: &MemoryDesc, dst: &MemoryDesc) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: descriptors valid, engine alive, default attributes.
        unsafe {
            l.dnnl_reorder_primitive_desc_create(
                &mut raw,
                src.as_raw(),
                engine.raw,
                dst.as_raw(),
                engine.raw,
                ptr::null(),
            )
        },
        "dnnl_reorder_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}
