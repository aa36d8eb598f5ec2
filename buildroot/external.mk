include $(sort $(wildcard $(BR2_EXTERNAL_KRING_PATH)/package/*/*.mk))
