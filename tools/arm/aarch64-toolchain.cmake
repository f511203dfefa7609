# CMake toolchain: cross-build sparsebench's extension for aarch64 Linux with Debian's
# g++-aarch64-linux-gnu, test programs run through qemu-aarch64 with the sysroot assembled by
# tools/arm/sysroot.sh. Inputs (cache variables or environment):
#   SB_ARM_SYSROOT  the extracted arm64 sysroot (CPython 3.11, numpy, libgomp, ...)
#   SB_ARM_QEMU     the qemu-aarch64 user-mode emulator (qemu-aarch64 or qemu-aarch64-static)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT SB_ARM_SYSROOT)
  set(SB_ARM_SYSROOT "$ENV{SB_ARM_SYSROOT}")
endif()
if(NOT SB_ARM_QEMU)
  set(SB_ARM_QEMU "$ENV{SB_ARM_QEMU}")
endif()
if(NOT SB_ARM_SYSROOT OR NOT SB_ARM_QEMU)
  message(FATAL_ERROR "aarch64-toolchain.cmake: set SB_ARM_SYSROOT and SB_ARM_QEMU")
endif()
# try_compile projects re-read this file: hand them the same values.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SB_ARM_SYSROOT SB_ARM_QEMU)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# The compiler keeps its own libc/libstdc++/libgomp (/usr/aarch64-linux-gnu); the extracted
# sysroot supplies what the cross toolchain lacks: Python's headers and the runtime to test in.
set(CMAKE_CROSSCOMPILING_EMULATOR "${SB_ARM_QEMU};-L;${SB_ARM_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${SB_ARM_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# BOTH: FindPython gets absolute sysroot paths from the emulated interpreter's sysconfig.
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Debian's arch-independent pyconfig.h includes <aarch64-linux-gnu/python3.11/pyconfig.h>:
# search the sysroot's /usr/include last, so the compiler's own libc headers still win.
set(CMAKE_CXX_FLAGS_INIT "-idirafter ${SB_ARM_SYSROOT}/usr/include")
