//! The emulated CUDA device refuses what a GPU would refuse, with a message naming the kernel:
//! launches whose arguments do not match the kernel's signature, block and grid shapes past CUDA's
//! limits, kernels that do not exist. `auto` never picks it.

use cudarc::driver::LaunchConfig;
use ddr_engine::device::cuda::{CudaDevice, KernelArg};
use ddr_engine::device::{Device, DeviceSpec};

fn cfg(grid: (u32, u32, u32), block: (u32, u32, u32)) -> LaunchConfig {
    LaunchConfig { grid_dim: grid, block_dim: block, shared_mem_bytes: 0 }
}

#[test]
fn bad_launches_are_errors_that_name_the_kernel() {
    let dev = CudaDevice::open_emulated().unwrap();
    let mut buf = dev.upload(&[1.0, 2.0, 3.0]).unwrap();
    let x = dev.upload(&[1.0, 2.0, 3.0]).unwrap();
    let (x, y) = (x.dev_view(), buf.dev_view_mut());
    let (a, n, n32) = (2.0f32, 3u64, 3u32);
    let ok = cfg((1, 1, 1), (32, 1, 1));
    // scale_f32(const float* x, float a, float* y, u64 n)
    let args = [KernelArg::new(x.arg()), KernelArg::new(&a), KernelArg::new(y.arg()), KernelArg::new(&n)];
    dev.launch("scale_f32", ok, &args).unwrap();
    let cases: Vec<(&str, LaunchConfig, Vec<KernelArg>, &str)> = vec![
        ("scale_f32", ok, args[..3].to_vec(), "takes 4 arguments"),
        (
            "scale_f32",
            ok,
            vec![KernelArg::new(x.arg()), KernelArg::new(&a), KernelArg::new(y.arg()), KernelArg::new(&n32)],
            "argument 3 is 8 bytes",
        ),
        ("scale_f32", cfg((1, 1, 1), (2048, 1, 1)), args.to_vec(), "invalid block"),
        ("scale_f32", cfg((1, 65536, 1), (32, 1, 1)), args.to_vec(), "invalid grid"),
        ("scale_f32", cfg((0, 1, 1), (32, 1, 1)), args.to_vec(), "invalid grid"),
        ("no_such_kernel", ok, args.to_vec(), "not among the emulated kernels"),
    ];
    for (name, c, args, want) in cases {
        let e = format!("{:#}", dev.launch(name, c, &args).unwrap_err());
        assert!(e.contains(name) && e.contains(want), "{name}: {e}");
    }
    assert_eq!(dev.download(&buf).unwrap(), [2.0, 4.0, 6.0], "only the valid launch ran");
}

#[test]
fn the_emulated_device_is_chosen_only_by_name() {
    let dev = Device::open("cuda-emu".parse::<DeviceSpec>().unwrap()).unwrap();
    assert!(matches!(&dev, Device::Cuda(d) if d.is_emulated()));
    assert!(format!("{dev}").starts_with("cuda-emu"));
    // auto is the CPU here (no GPU) or a real GPU, never the emulator.
    match Device::open(DeviceSpec::Auto).unwrap() {
        Device::Cpu => {}
        Device::Cuda(d) => assert!(!d.is_emulated()),
    }
}
