// Empty on the emulated device: cuda_emu.h (included first) defines what <mma.h> declares on a GPU.
#pragma once
