use super::*;

fn mem(engine: &Engine, md: &MemoryDesc, data: &[f32]) -> Memory {
    let mut m = Memory::alloc(engine, md).unwrap();
    m.write(data).unwrap();
    m
}

fn run(pd: &PrimitiveDesc, stream: &mut Stream, args: &[(Arg, &Memory)]) {
    Primitive::new(pd).unwrap().execute(stream, args).unwrap();
    stream.wait().unwrap();
}

#[test]
fn a_convolution_with_bias_sum_and_relu_matches_a_direct_loop() {
    let engine = Engine::cpu().unwrap();
    let mut stream = Stream::new(engine).unwrap();
    let (n, ci, co, h, w, k) = (2, 3, 5, 6, 7, 3);
    let x: Vec<f32> = (0..n * ci * h * w)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let wt: Vec<f32> = (0..co * ci * k * k)
        .map(|i| ((i * 11 % 13) as f32 - 6.0) / 13.0)
        .collect();
    let bias: Vec<f32> = (0..co).map(|i| i as f32 * 0.1 - 0.2).collect();
    let resid: Vec<f32> = (0..n * co * h * w)
        .map(|i| ((i % 7) as f32 - 3.0) / 4.0)
        .collect();
    // stride 1, pad 1: same size out.
    let mut want = vec![0f32; n * co * h * w];
    for b in 0..n {
        for o in 0..co {
            for y in 0..h {
                for xx in 0..w {
                    let mut s = bias[o];
                    for c in 0..ci {
                        for dy in 0..k {
                            for dx in 0..k {
                                let (iy, ix) = (y as isize + dy as isize - 1, xx as isize + dx as isize - 1);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    s += x[((b * ci + c) * h + iy as usize) * w + ix as usize]
                                        * wt[((o * ci + c) * k + dy) * k + dx];
                                }
                            }
                        }
                    }
                    let i = ((b * co + o) * h + y) * w + xx;
                    want[i] = (s + resid[i]).max(0.0);
                }
            }
        }
    }
    let xmd = MemoryDesc::new(&[n, ci, h, w], DataType::F32, Layout::Plain).unwrap();
    let wmd = MemoryDesc::new(&[co, ci, k, k], DataType::F32, Layout::Plain).unwrap();
    let bmd = MemoryDesc::new(&[co], DataType::F32, Layout::Plain).unwrap();
    let ymd = MemoryDesc::new(&[n, co, h, w], DataType::F32, Layout::Plain).unwrap();
    let attr = Attr::new(&[PostOp::Sum(1.0), PostOp::Relu]).unwrap();
    let p = ConvParams {
        src: &xmd,
        weights: &wmd,
        bias: Some(&bmd),
        dst: &ymd,
        strides: &[1, 1],
        dilation: &[1, 1],
        pad_l: &[1, 1],
        pad_r: &[1, 1],
    };
    let pd = convolution_forward(engine, &p, Some(&attr)).unwrap();
    assert!(!pd.implementation().is_empty());
    let (xm, wm, bm, ym) = (
        mem(engine, &xmd, &x),
        mem(engine, &wmd, &wt),
        mem(engine, &bmd, &bias),
        mem(engine, &ymd, &resid),
    );
    let prim = Primitive::new(&pd).unwrap();
    // Arguments are checked against what the primitive was made for.
    let e = prim
        .execute(
            &mut stream,
            &[(Arg::Src, &xm), (Arg::Weights, &wm), (Arg::Dst, &ym)],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("Bias") && e.to_string().contains("missing"),
        "{e}"
    );
    let e = prim
        .execute(
            &mut stream,
            &[
                (Arg::Src, &ym),
                (Arg::Weights, &wm),
                (Arg::Bias, &bm),
                (Arg::Dst, &ym),
            ],
        )
        .unwrap_err();
    assert!(e.to_string().contains("Src"), "{e}");
    run(
        &pd,
        &mut stream,
        &[
            (Arg::Src, &xm),
            (Arg::Weights, &wm),
            (Arg::Bias, &bm),
            (Arg::Dst, &ym),
        ],
    );
    let mut yv = vec![0f32; want.len()];
    ym.read(&mut yv).unwrap();
    for (a, b) in yv.iter().zip(&want) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn a_reorder_to_the_layout_a_convolution_picks_and_back_is_the_identity() {
    let engine = Engine::cpu().unwrap();
    let mut stream = Stream::new(engine).unwrap();
    let dims = [1, 24, 4, 5, 6];
    let any = MemoryDesc::new(&dims, DataType::F32, Layout::Any).unwrap();
    let wmd = MemoryDesc::new(&[32, 24, 1, 1, 1], DataType::F32, Layout::Any).unwrap();
    let ymd = MemoryDesc::new(&[1, 32, 4, 5, 6], DataType::F32, Layout::Any).unwrap();
    let p = ConvParams {
        src: &any,
        weights: &wmd,
        bias: None,
        dst: &ymd,
        strides: &[1; 3],
        dilation: &[1; 3],
        pad_l: &[0; 3],
        pad_r: &[0; 3],
    };
    let pd = convolution_forward(engine, &p, None).unwrap();
    let chosen = pd.query(Query::Src).unwrap();
    assert_eq!(chosen.dims(), dims.to_vec());
    let plain = MemoryDesc::new(&dims, DataType::F32, Layout::Plain).unwrap();
    assert!(plain.is_plain());
    let a: Vec<f32> = (0..dims.iter().product::<usize>()).map(|i| i as f32).collect();
    let am = mem(engine, &plain, &a);
    let mm = Memory::alloc(engine, &chosen).unwrap();
    // The way back goes through a view at an offset of a larger buffer.
    let big = MemoryDesc::new(&[plain.size_bytes() + 64], DataType::U8, Layout::Plain).unwrap();
    let base = std::sync::Arc::new(Memory::alloc(engine, &big).unwrap());
    let bm = Memory::view(engine, &plain, &base, 64).unwrap();
    assert!(Memory::view(engine, &plain, &base, 128).is_err());
    run(
        &reorder(engine, &plain, &chosen).unwrap(),
        &mut stream,
        &[(Arg::Src, &am), (Arg::Dst, &mm)],
    );
    run(
        &reorder(engine, &chosen, &plain).unwrap(),
        &mut stream,
        &[(Arg::Src, &mm), (Arg::Dst, &bm)],
    );
    let mut back = vec![0f32; a.len()];
    bm.read(&mut back).unwrap();
    assert_eq!(back, a);
    assert!(mm.read(&mut back).is_err() || chosen.is_plain());
}

#[test]
fn bad_arguments_and_a_missing_library_are_named_errors() {
    let engine = Engine::cpu().unwrap();
    let x = MemoryDesc::new(&[1, 3, 8, 8], DataType::F32, Layout::Plain).unwrap();
    let w = MemoryDesc::new(&[4, 5, 3, 3], DataType::F32, Layout::Plain).unwrap();
    let y = MemoryDesc::new(&[1, 4, 6, 6], DataType::F32, Layout::Plain).unwrap();
    let p = ConvParams {
        src: &x,
        weights: &w,
        bias: None,
        dst: &y,
        strides: &[1, 1],
        dilation: &[1, 1],
        pad_l: &[0, 0],
        pad_r: &[0, 0],
    };
    let e = convolution_forward(engine, &p, None).unwrap_err().to_string();
    assert!(
        e.contains("convolution") && e.contains("invalid arguments"),
        "{e}"
    );
    assert!(set_num_threads(0).unwrap_err().to_string().contains("at least 1"));
    let e = raw::open("libdnnl-that-is-not-there.so.9")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("libdnnl-that-is-not-there"), "{e}");
    let e = DnnlError::Missing {
        soname: "libdnnl.so.2".into(),
        reason: e,
    }
    .to_string();
    assert!(e.contains("libdnnl.so.2") && e.contains("install-deps"), "{e}");
}

#[test]
fn the_isa_and_version_are_reported() {
    let (major, _, _) = version().unwrap();
    assert!(major >= 2);
    assert!(!effective_isa().unwrap().is_empty());
    set_num_threads(1).unwrap();
}
