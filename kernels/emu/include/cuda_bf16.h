// Empty on the emulated device: cuda_emu.h (included first) defines what <cuda_bf16.h> declares on a GPU.
#pragma once
