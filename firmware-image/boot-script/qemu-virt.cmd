# kring A/B boot script for qemu-virt (U-Boot, Debian's u-boot-qemu as QEMU's -bios).
# Compiled to boot.scr on the boot partition by `cargo xtask image`.
#
# RAUC's U-Boot contract: BOOT_ORDER (slots by bootname, first = primary) and
# BOOT_<slot>_LEFT (attempts left). Every boot takes one attempt of the first
# slot that has one and saves that BEFORE it boots; a healthy system gives the
# attempts back (kring-confirm: `rauc status mark-good`). A slot whose
# attempts run out is skipped: the other one boots, by itself.
# The state lives in uboot.env on this FAT partition, the same file
# fw_setenv edits from Linux (/etc/fw_env.config).
setenv envpart ${devtype} ${devnum}:1
setexpr envaddr ${scriptaddr} + 0x100000
if load ${envpart} ${envaddr} uboot.env && env import -c ${envaddr} 0x4000 BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
  echo "kring: boot state BOOT_ORDER=${BOOT_ORDER} A=${BOOT_A_LEFT} B=${BOOT_B_LEFT}"
else
  echo "kring: no valid uboot.env, using defaults"
fi
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv kring_slot
for s in ${BOOT_ORDER}; do
  if test -n "${kring_slot}"; then
    true
  elif test "${s}" = "A" && test 0x${BOOT_A_LEFT} -gt 0; then
    setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
    setenv kring_slot A; setenv kring_part 2
  elif test "${s}" = "B" && test 0x${BOOT_B_LEFT} -gt 0; then
    setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
    setenv kring_slot B; setenv kring_part 3
  fi
done
if test -z "${kring_slot}"; then
  echo "kring: no slot has attempts left, resetting both to 3"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  env export -c -s 0x4000 ${envaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
  fatwrite ${envpart} ${envaddr} uboot.env 0x4000
  reset
fi
echo "kring: booting slot ${kring_slot} (A=${BOOT_A_LEFT} B=${BOOT_B_LEFT} left)"
env export -c -s 0x4000 ${envaddr} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite ${envpart} ${envaddr} uboot.env 0x4000

# extras for the kernel command line (the test harness's systemd.setenv=...):
# a line kring_extra=... in kring-boot.env on this partition
setenv kring_extra
if load ${envpart} ${envaddr} kring-boot.env; then env import -t ${envaddr} ${filesize} kring_extra; fi

# net.ifnames=0: the network interface keeps the kernel's name (eth0). udev
# renaming it races with networkd bringing it up; lost, the link never
# gets an address ("Failed to configure DHCPv4 client: Device or resource busy").
setenv bootargs "console=ttyAMA0 root=/dev/vda${kring_part} rootfstype=ext4 ro rootwait fsck.repair=yes panic=10 net.ifnames=0 rauc.slot=${kring_slot} ${kring_extra}"
load ${devtype} ${devnum}:${kring_part} ${kernel_addr_r} /boot/vmlinuz || reset
load ${devtype} ${devnum}:${kring_part} ${ramdisk_addr_r} /boot/initrd.img || reset
booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
echo "kring: booti failed"
reset
