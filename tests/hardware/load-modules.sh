# Sourced by the guests' /init (busybox sh): loads /modules/*.ko in modprobe's dependency order, each with the
# parameters in /modules/NAME.params when there is one (vivid, i2c-stub).
for module in $(cat /modules/order); do
  insmod "/modules/$module" $(cat "/modules/${module%.ko}.params" 2>/dev/null) || echo "init: insmod $module failed"
done
